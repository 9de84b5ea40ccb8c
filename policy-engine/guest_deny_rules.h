// policy::EnforcementSpec -> DenyRule (core/deny_rule.h) for one sandbox: the deny set the
// host pushes into a guest's BPF LSM. Header-only and pure.
#pragma once

#include <algorithm>
#include <string_view>
#include <vector>

#include "policy-engine/enforcement_spec.h"
#include "core/deny_rule.h"

namespace kata_sentry::policy {

// The guest-enforceable subset for the sandbox `sandbox_id`: specs restricted to the host
// view or to other sandboxes are left out (they are not this guest's to enforce). A spec with
// a connection destination (family, port, address) is refused into `refused` ("<rule>: <why>"):
// the guest LSM's socket_connect entries cannot match one, and sending the rest of the rule
// would refuse every connect.
inline DenyRule deny_rule_of(const policy::EnforcementSpec& s) {
  DenyRule d;
  d.name = s.rule;
  d.event_types = s.event_types;
  d.exact_paths = s.exact_paths;
  d.path_prefixes = s.path_prefixes;
  d.binaries = s.binaries;
  d.comms = s.comms;
  d.uid = s.uid;
  d.any_container = s.any_container;
  d.container_ids = s.container_ids;
  d.cgroup_ids = s.cgroup_ids;
  d.exe_prefixes = s.exe_prefixes;
  d.fstypes = s.fstypes;
  d.mount_side = s.mount_side;
  if (s.arg) d.arg = DenyRule::Arg{s.arg->name, s.arg->value, s.arg->any_bit};
  d.syscall = s.syscall;
  d.rdev_major = s.rdev_major;
  d.rdev_minors = s.rdev_minors;
  d.device_kind = s.device_kind;
  d.unlinked = s.unlinked;
  d.fs_magic = s.fs_magic;
  for (const auto& e : s.exceptions) d.exceptions.push_back(deny_rule_of(e));
  return d;
}

inline std::vector<DenyRule> guest_deny_rules(const std::vector<policy::EnforcementSpec>& specs,
                                                  std::string_view sandbox_id,
                                                  std::vector<std::string>* refused = nullptr) {
  std::vector<DenyRule> out;
  for (const auto& s : specs) {
    if (s.view && *s.view != View::guest) continue;
    if (!s.sandbox_ids.empty() &&
        std::find(s.sandbox_ids.begin(), s.sandbox_ids.end(), sandbox_id) == s.sandbox_ids.end())
      continue;
    if (!s.socket_families.empty() || !s.ports.empty() || !s.ip_nets.empty()) {
      if (refused)
        refused->push_back(s.rule + ": the guest LSM cannot match a connection's family, port or address");
      continue;
    }
    DenyRule d = deny_rule_of(s);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace kata_sentry::policy
