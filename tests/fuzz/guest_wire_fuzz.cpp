// libFuzzer target: what a hostile guest can put on the wire to the host. Arbitrary bytes as
// one EventBatch through decode_guest_batch (the walk that bounds what decoding may allocate,
// then the decode), as a GuestEventsMessage the way kata-sentryd reads the shim's event path,
// and as a deny set through deny_rules_from_proto; each accepted event rendered as JSON.
// Nothing may crash, hang, read out of bounds or allocate past the limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/event_json.h"
#include "deny_rule_convert.h"
#include "guest_wire.h"
#include "sentryd.pb.h"
#include "tests/fuzz/fuzz_check.h"

using namespace kata_sentry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = quiet_protobuf();  // the attach id is a proto3 string: its refusals would flood the log
  (void)quiet;
  std::string_view wire(reinterpret_cast<const char*>(data), size);
  GuestBatchLimits limits;
  limits.max_decoded_bytes = 1u << 20;  // small enough that the fuzzer reaches the limit
  if (auto batch = decode_guest_batch(wire, limits)) {
    for (const auto& e : batch->events) (void)event_to_json(e);
  }
  v1::GuestEventsMessage msg;
  if (msg.ParseFromArray(data, int(size)) && msg.has_batch()) (void)decode_guest_batch(msg.batch(), limits);
  v1::SetEnforcementRequest deny;
  if (deny.ParseFromArray(data, int(size))) (void)deny_rules_from_proto(deny);
  return 0;
}
