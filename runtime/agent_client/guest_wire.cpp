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

void deny_rules_to_proto(const std::vector<DenyRuleSpec>& rules, v1::SetEnforcementRequest& out) {
  for (const auto& r : rules) {
    auto* m = out.add_rules();
    m->set_name(r.name);
    for (auto t : r.event_types) m->add_event_types(uint32_t(t));
    for (const auto& p : r.exact_paths) m->add_exact_paths(p);
    for (const auto& p : r.path_prefixes) m->add_path_prefixes(p);
    for (const auto& b : r.binaries) m->add_binaries(b);
    for (const auto& c : r.comms) m->add_comms(c);
    if (r.uid) m->set_uid(*r.uid);
    m->set_any_container(r.any_container);
    for (const auto& c : r.container_ids) m->add_container_ids(c);
    for (auto c : r.cgroup_ids) m->add_cgroup_ids(c);
  }
}

Result<std::vector<DenyRuleSpec>> deny_rules_from_proto(const v1::SetEnforcementRequest& msg) {
  std::vector<DenyRuleSpec> rules;
  for (const auto& m : msg.rules()) {
    DenyRuleSpec r;
    r.name = m.name();
    for (uint32_t t : m.event_types()) {
      if (t > UINT16_MAX || event_type_name(EventType(t)).empty())
        return fail(ErrorCode::protocol, "deny rule '" + r.name + "': unknown event type " + std::to_string(t));
      r.event_types.push_back(EventType(t));
    }
    r.exact_paths.assign(m.exact_paths().begin(), m.exact_paths().end());
    r.path_prefixes.assign(m.path_prefixes().begin(), m.path_prefixes().end());
    r.binaries.assign(m.binaries().begin(), m.binaries().end());
    r.comms.assign(m.comms().begin(), m.comms().end());
    if (m.has_uid()) r.uid = m.uid();
    r.any_container = m.any_container();
    r.container_ids.assign(m.container_ids().begin(), m.container_ids().end());
    r.cgroup_ids.assign(m.cgroup_ids().begin(), m.cgroup_ids().end());
    rules.push_back(std::move(r));
  }
  return rules;
}

std::vector<std::string> refusals_from_proto(const google::protobuf::RepeatedPtrField<std::string>& refused) {
  std::vector<std::string> out;
  for (int i = 0; i < refused.size() && i < 4096; ++i) out.push_back(sanitize_guest_text(refused.Get(i), 512));
  return out;
}

}  // namespace kata_sentry::runtime
