// A deny rule as the guest's BPF LSM enforces it: a policy::EnforcementSpec resolved for one
// sandbox (view and sandbox ids decided on the host, see policy-engine/guest_deny_rules.h).
// The one definition shared by the host side (monitor, agent client, shim relay, kata-sentryd)
// and the guest side (agent, guest-probes deny compiler). Every list is an OR of its entries,
// the lists are ANDed, an empty list means any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"

namespace kata_sentry {

struct DenyRule {
  std::string name;                    // the rule's name, echoed in refusals and denied records
  std::vector<EventType> event_types;  // never empty
  std::vector<std::string> exact_paths;
  std::vector<std::string> path_prefixes;
  std::vector<std::string> binaries;   // executable path of the acting process
  std::vector<std::string> comms;
  std::optional<uint32_t> uid;
  bool any_container = false;          // only processes inside a container
  std::vector<std::string> container_ids;
  std::vector<uint64_t> cgroup_ids;    // guest cgroup v2 ids
};

}  // namespace kata_sentry
