// The set of event types the guest probes build (SetWantedTypesRequest, proto/agent.proto),
// both ends: the host that pushes it (agent client, the shim relaying kata-sentryd) and the
// agent that receives it.
#pragma once

#include <bitset>

#include "agent.pb.h"
#include "core/event.h"
#include "core/field_filters.h"
#include "core/result.h"

namespace kata_sentry {

using WireTypeSet = std::bitset<kEventTypeSlots>;

void wanted_types_to_proto(const WireTypeSet& types, v1::SetWantedTypesRequest& out);
// Refuses more than kEventTypeSlots entries or a value out of range (the sender may be a
// hostile peer); unknown but in-range values are kept (no probe builds them).
Result<WireTypeSet> wanted_types_from_proto(const v1::SetWantedTypesRequest& msg);

// The path and comm conditions (field_filters), added to a message wanted_types_to_proto wrote.
void field_filters_to_proto(const FieldFilters& filters, v1::SetWantedTypesRequest& out);
// Refuses a type out of range or listed twice, more entries or longer texts than the kernel
// takes (field_filter_abi.h), naming the type: the sender may be a hostile peer.
Result<FieldFilters> field_filters_from_proto(const v1::SetWantedTypesRequest& msg);

}  // namespace kata_sentry
