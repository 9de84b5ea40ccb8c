// The set of event types the guest probes build (SetWantedTypesRequest, proto/agent.proto),
// both ends: the host that pushes it (agent client, the shim relaying kata-sentryd) and the
// agent that receives it.
#pragma once

#include <bitset>

#include "agent.pb.h"
#include "core/event.h"
#include "core/result.h"

namespace kata_sentry {

using WireTypeSet = std::bitset<kEventTypeSlots>;

void wanted_types_to_proto(const WireTypeSet& types, v1::SetWantedTypesRequest& out);
// Refuses more than kEventTypeSlots entries or a value out of range (the sender may be a
// hostile peer); unknown but in-range values are kept (no probe builds them).
Result<WireTypeSet> wanted_types_from_proto(const v1::SetWantedTypesRequest& msg);

}  // namespace kata_sentry
