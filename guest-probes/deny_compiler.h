// Compiles deny rules (what policy::EnforcementSpec says, as the agent receives them) into
// the fixed-size entries guest_lsm.bpf.c consults at its LSM hooks. Pure: no kernel access,
// so every expressible and inexpressible case is unit-tested.
//
// A rule is installed whole or refused whole with a reason; nothing is silently dropped or
// half-enforced. Lists are ORed and ANDed with each other, so one rule becomes the product
// of its path x comm x cgroup alternatives as entries.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <linux/types.h>

#include "core/deny_rule.h"
#include "core/event.h"
#include "guest-probes/bpf/guest_lsm_abi.h"

namespace kata_sentry::guest_probes {

// What the compiler needs to know about the guest's containers.
struct ContainerCgroups {
  uint64_t parent_cgroup_id = 0;               // every container lives below it
  std::map<std::string, uint64_t> containers;  // container id -> cgroup id (running ones)
};

struct CompiledDenySet {
  std::vector<ks_deny_rule> entries;     // rule_id = index into `rules`
  std::vector<std::string> refused;      // "<rule>: <reason>"
  uint32_t installed = 0;                // rules that compiled (some may have 0 entries yet:
                                         // a container rule whose container is not running)
};

// The LSM event types a rule of `type` is enforced at, or 0 when no hook enforces it.
uint64_t lsm_type_mask(EventType type);

CompiledDenySet compile_deny_set(const std::vector<DenyRule>& rules, const ContainerCgroups& cg);

}  // namespace kata_sentry::guest_probes
