// The guest sensor's messages (proto/agent.proto) <-> the host's plain structs. The agent
// client decodes what the guest sends with these, and the shim and kata-sentryd use the same
// functions to relay those messages between them, so a batch is validated the same way
// wherever it is read. RPC edges only: this header brings in the Protobuf types.
#pragma once

#include <string>
#include <vector>

#include "agent.pb.h"
#include "deny_rule_convert.h"
#include "core/result.h"
#include "runtime/agent_client/agent_client.h"

namespace kata_sentry::runtime {

// Validates every event (unknown type or view: ErrorCode::protocol naming the sequence
// number), clears the sandbox fields a sender may have set (the receiver tags them from what
// it knows) and bounds the sender's text.
Result<GuestEventBatch> guest_batch_from_proto(const v1::EventBatch& msg);
void guest_batch_to_proto(const GuestEventBatch& batch, v1::EventBatch& out);

// At most 4096 entries of at most 512 bytes: the refusals come from the guest.
std::vector<std::string> refusals_from_proto(const google::protobuf::RepeatedPtrField<std::string>& refused);

}  // namespace kata_sentry::runtime
