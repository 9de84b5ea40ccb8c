// The guest sensor's batches (proto/agent.proto EventBatch) <-> the host's plain structs.
//
// What a guest sends is hostile input. The host never lets the Protobuf library allocate
// from it before it knows the cost: decode_guest_batch() first walks the wire bytes (nothing
// allocated in proportion to them) and refuses a batch that is too large, holds too many
// events, or would decode into more memory than the budget allows (an empty repeated entry
// costs 2 bytes on the wire and ~100 bytes decoded, so a 4 MiB batch could otherwise become
// hundreds of MiB). A process image sent once and referred to by many events
// (EventBatch.processes, Event.proc_ref) is counted once per reference: each becomes a copy.
// Only then does it parse and validate each event. Every refusal names its reason, so the
// caller can count drops by reason and carry on with the next batch.
//
// String fields are `bytes` on the wire: any file name a guest kernel can produce (invalid
// UTF-8 included) survives the trip unchanged; printing it safely is the output's job.
// RPC edges only: this header brings in the Protobuf types.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "agent.pb.h"
#include "core/guest_batch.h"

namespace kata_sentry {

struct GuestBatchLimits {
  size_t max_wire_bytes = 4u << 20;       // as the agent channel's message limit
  size_t max_events = 4096;               // the agent never sends more per batch
  size_t max_decoded_bytes = 16u << 20;   // estimated memory of the decoded batch
  // Per event: the agent bounds these far lower; beyond them the sender is not our agent.
  // (the decoder keeps at most 1024 argv and 1024 environment strings of an exec)
  size_t max_args = 1024;
  size_t max_env = 1024;
  size_t max_ancestors = 32;
  size_t max_numeric_args = 16;
};

// Why a batch was refused; each is a drop counter.
enum class GuestDropReason : uint8_t {
  oversized = 0,        // wire bytes or decoded-size estimate over the limit
  too_many_events = 1,  // more events (or per-event entries) than the limits allow
  malformed = 2,        // not a well-formed EventBatch
  invalid_event = 3,    // well-formed, but an event is out of range (unknown type, view, ...)
};
inline constexpr size_t kGuestDropReasons = 4;
std::string_view guest_drop_reason_name(GuestDropReason reason);

struct GuestBatchRejection {
  GuestDropReason reason = GuestDropReason::malformed;
  std::string detail;  // printable, bounded: safe for logs and audit records
};

// Decodes one EventBatch from its wire bytes. Sandbox fields a sender may have set are
// cleared (the receiver tags events from what it knows) and the view is forced to guest.
std::expected<GuestEventBatch, GuestBatchRejection> decode_guest_batch(std::string_view wire,
                                                                       const GuestBatchLimits& limits = {});

// The agent's side. Sets each event's seq (first_seq + i) too.
void guest_batch_to_proto(const GuestEventBatch& batch, v1::EventBatch& out);

// The agent's side, batch after batch: builds each EventBatch on an arena that the next build
// resets. A heap-allocated message frees its events' sub-messages (process, ancestors, their
// strings) on Clear() and allocates them again for the next batch, one malloc each; on the
// arena they are bump allocations and all go at once. Not thread-safe; the message lives until
// the next build().
class GuestBatchEncoder {
 public:
  GuestBatchEncoder();
  const v1::EventBatch& build(const GuestEventBatch& batch);

 private:
  google::protobuf::Arena arena_;
};
std::string encode_guest_batch(const GuestEventBatch& batch);

// At most 4096 entries of at most 512 bytes: the refusals come from the guest.
std::vector<std::string> refusals_from_proto(const google::protobuf::RepeatedPtrField<std::string>& refused);

}  // namespace kata_sentry
