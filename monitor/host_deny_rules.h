// policy::EnforcementSpec -> probes::HostDenyRule for one sandbox's host cgroup programs, so
// that the host probes library stays free of the policy engine. Header-only, like
// deny_rule_spec.h for the guest.
#pragma once

#include <algorithm>
#include <string_view>
#include <vector>

#include "host-probes/host_deny_compiler.h"
#include "policy-engine/enforcement_spec.h"

namespace kata_sentry::monitor {

// Specs for the host view, and those without a view (a rule that does not say which side
// applies to both), restricted to `sandbox_id` when they name sandboxes. A spec with parts only
// the guest LSM checks (arguments, device numbers, ...) is the guest's: the cgroup programs
// would ignore those parts and refuse more than the rule says.
inline std::vector<probes::HostDenyRule> host_deny_rules(const std::vector<policy::EnforcementSpec>& specs,
                                                         std::string_view sandbox_id) {
  std::vector<probes::HostDenyRule> out;
  for (const auto& s : specs) {
    if (s.view && *s.view != View::host) continue;
    if (s.has_guest_only_parts()) continue;
    if (!s.sandbox_ids.empty() &&
        std::find(s.sandbox_ids.begin(), s.sandbox_ids.end(), sandbox_id) == s.sandbox_ids.end())
      continue;
    probes::HostDenyRule r;
    r.name = s.rule;
    r.event_types = s.event_types;
    r.exact_paths = s.exact_paths;
    r.path_prefixes = s.path_prefixes;
    r.binaries = s.binaries;
    r.comms = s.comms;
    r.uid = s.uid;
    r.any_container = s.any_container;
    r.container_ids = s.container_ids;
    r.cgroup_ids = s.cgroup_ids;
    r.socket_families = s.socket_families;
    r.ports = s.ports;
    r.ip_nets = s.ip_nets;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace kata_sentry::monitor
