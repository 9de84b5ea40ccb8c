// Lossless conversion between the domain Event and its Protobuf wire form. Only RPC
// edges (agent, shim, daemon API) include this; the rest of the code sees Event only.
#pragma once

#include "core/event.h"
#include "core/result.h"
#include "event.pb.h"

namespace kata_sentry {

void event_to_proto(const Event& event, v1::Event& out);

// The part of a process context that stays the same from event to event of one process image:
// exepath, args, args_truncated, cwd, exe_deleted, pname and ancestors. Guest batches send it
// once per batch (EventBatch.processes, Event.proc_ref).
bool same_process_image(const ProcessContext& a, const ProcessContext& b);
void process_image_to_proto(const ProcessContext& p, v1::ProcessContext& out);
void process_image_from_proto(const v1::ProcessContext& m, ProcessContext& p);
// event_to_proto without the process image (for an event that refers to one).
void event_to_proto_without_process_image(const Event& event, v1::Event& out);
// Refuses an unknown type or view (a hostile peer can send anything).
Result<Event> event_from_proto(const v1::Event& msg);

}  // namespace kata_sentry
