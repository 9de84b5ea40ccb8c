#include "deny_rule_convert.h"

namespace kata_sentry {

void deny_rules_to_proto(const std::vector<DenyRule>& rules, v1::SetEnforcementRequest& out) {
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

Result<std::vector<DenyRule>> deny_rules_from_proto(const v1::SetEnforcementRequest& msg) {
  std::vector<DenyRule> rules;
  for (const auto& m : msg.rules()) {
    DenyRule r;
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

}  // namespace kata_sentry
