// libFuzzer target: what a hostile guest (through the shim's relay) can put on the wire to
// kata-sentryd. Arbitrary bytes as a RelayMessage, then the same decoding the daemon does:
// event batches through guest_batch_from_proto, deny sets through deny_rules_from_proto, and
// each accepted event rendered as JSON. Nothing may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "core/event_json.h"
#include "guest_wire.h"
#include "sentryd.pb.h"

using namespace kata_sentry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::RelayMessage msg;
  if (msg.ParseFromArray(data, int(size)) && msg.has_batch()) {
    auto batch = guest_batch_from_proto(msg.batch());
    if (batch)
      for (const auto& e : batch->events) (void)event_to_json(e);
  }
  v1::SetEnforcementRequest deny;
  if (deny.ParseFromArray(data, int(size))) (void)deny_rules_from_proto(deny);
  return 0;
}
