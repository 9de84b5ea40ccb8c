// Lossless conversion between the domain Event and its Protobuf wire form. Only RPC
// edges (agent, shim, daemon API) include this; the rest of the code sees Event only.
#pragma once

#include "core/event.h"
#include "core/result.h"
#include "event.pb.h"

namespace kata_sentry {

void event_to_proto(const Event& event, v1::Event& out);
// Refuses an unknown type or view (a hostile peer can send anything).
Result<Event> event_from_proto(const v1::Event& msg);

}  // namespace kata_sentry
