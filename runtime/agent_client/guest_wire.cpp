#include "runtime/agent_client/guest_wire.h"

#include "event_convert.h"
#include "runtime/agent_client/agent_errors.h"

namespace kata_sentry::runtime {
namespace {

GuestSensorStats stats_from_proto(const v1::GuestSensorStats& m) {
  GuestSensorStats s;
  s.ringbuf_drops = m.ringbuf_drops();
  s.rate_limited = m.rate_limited();
  s.sent = m.sent();
  s.queue_drops = m.queue_drops();
  s.lsm_enforcing = m.lsm_enforcing();
  s.lsm_unavailable_reason = sanitize_guest_text(m.lsm_unavailable_reason(), 256);
  return s;
}

void stats_to_proto(const GuestSensorStats& s, v1::GuestSensorStats& m) {
  m.set_ringbuf_drops(s.ringbuf_drops);
  m.set_rate_limited(s.rate_limited);
  m.set_sent(s.sent);
  m.set_queue_drops(s.queue_drops);
  m.set_lsm_enforcing(s.lsm_enforcing);
  m.set_lsm_unavailable_reason(s.lsm_unavailable_reason);
}

}  // namespace

Result<GuestEventBatch> guest_batch_from_proto(const v1::EventBatch& msg) {
  GuestEventBatch batch;
  batch.first_seq = msg.first_seq();
  batch.heartbeat = msg.heartbeat();
  batch.stats = stats_from_proto(msg.stats());
  batch.events.reserve(size_t(msg.events_size()));
  for (const auto& pe : msg.events()) {
    auto ev = event_from_proto(pe);
    if (!ev)
      return fail(ErrorCode::protocol, "invalid event at seq " + std::to_string(batch.first_seq + batch.events.size()) +
                                           ": " + sanitize_guest_text(ev.error().message, 200));
    ev->sandbox_id.clear();
    ev->sandbox_name.clear();
    ev->vmm_pid = 0;
    ev->view = View::guest;
    batch.events.push_back(std::move(*ev));
  }
  return batch;
}

void guest_batch_to_proto(const GuestEventBatch& batch, v1::EventBatch& out) {
  out.set_first_seq(batch.first_seq);
  out.set_heartbeat(batch.heartbeat);
  stats_to_proto(batch.stats, *out.mutable_stats());
  for (const auto& e : batch.events) event_to_proto(e, *out.add_events());
}

std::vector<std::string> refusals_from_proto(const google::protobuf::RepeatedPtrField<std::string>& refused) {
  std::vector<std::string> out;
  for (int i = 0; i < refused.size() && i < 4096; ++i) out.push_back(sanitize_guest_text(refused.Get(i), 512));
  return out;
}

}  // namespace kata_sentry::runtime
