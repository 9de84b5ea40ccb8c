#include "deny_rule_convert.h"

namespace kata_sentry {

namespace {

void deny_rule_to_proto(const DenyRule& r, v1::DenyRule* m) {
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
  for (const auto& p : r.exe_prefixes) m->add_exe_prefixes(p);
  for (const auto& f : r.fstypes) m->add_fstypes(f);
  if (r.mount_side) m->set_mount_side(std::string(1, r.mount_side));
  if (r.arg) {
    auto* a = m->mutable_arg();
    a->set_name(r.arg->name);
    a->set_value(r.arg->value);
    a->set_any_bit(r.arg->any_bit);
  }
  if (r.syscall) m->set_syscall(*r.syscall);
  if (r.rdev_major) m->set_rdev_major(*r.rdev_major);
  for (auto n : r.rdev_minors) m->add_rdev_minors(n);
  if (r.device_kind) m->set_device_kind(std::string(1, r.device_kind));
  m->set_unlinked(r.unlinked);
  if (r.fs_magic) m->set_fs_magic(*r.fs_magic);
  for (const auto& e : r.exceptions) deny_rule_to_proto(e, m->add_exceptions());
}

// `nested`: an exception, which may carry no event types and no exceptions of its own.
Result<DenyRule> deny_rule_from_proto(const v1::DenyRule& m, bool nested) {
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
  r.exe_prefixes.assign(m.exe_prefixes().begin(), m.exe_prefixes().end());
  r.fstypes.assign(m.fstypes().begin(), m.fstypes().end());
  if (m.mount_side() == "s" || m.mount_side() == "t") r.mount_side = m.mount_side()[0];
  else if (!m.mount_side().empty())
    return fail(ErrorCode::protocol, "deny rule '" + r.name + "': mount side must be s or t");
  if (m.has_arg()) r.arg = DenyRule::Arg{m.arg().name(), m.arg().value(), m.arg().any_bit()};
  if (m.has_syscall()) r.syscall = m.syscall();
  if (m.has_rdev_major()) r.rdev_major = m.rdev_major();
  r.rdev_minors.assign(m.rdev_minors().begin(), m.rdev_minors().end());
  if (m.device_kind() == "c" || m.device_kind() == "b") r.device_kind = m.device_kind()[0];
  else if (!m.device_kind().empty())
    return fail(ErrorCode::protocol, "deny rule '" + r.name + "': device kind must be c or b");
  r.unlinked = m.unlinked();
  if (m.has_fs_magic()) r.fs_magic = m.fs_magic();
  if (nested && (!r.event_types.empty() || m.exceptions_size() > 0))
    return fail(ErrorCode::protocol, "deny rule '" + r.name + "': an exception names event types or has exceptions");
  for (const auto& e : m.exceptions()) {
    auto x = deny_rule_from_proto(e, true);
    if (!x) return std::unexpected(x.error());
    r.exceptions.push_back(std::move(*x));
  }
  return r;
}

}  // namespace

void deny_rules_to_proto(const std::vector<DenyRule>& rules, v1::SetEnforcementRequest& out) {
  for (const auto& r : rules) deny_rule_to_proto(r, out.add_rules());
}

Result<std::vector<DenyRule>> deny_rules_from_proto(const v1::SetEnforcementRequest& msg) {
  std::vector<DenyRule> rules;
  for (const auto& m : msg.rules()) {
    auto r = deny_rule_from_proto(m, false);
    if (!r) return std::unexpected(r.error());
    rules.push_back(std::move(*r));
  }
  return rules;
}

}  // namespace kata_sentry
