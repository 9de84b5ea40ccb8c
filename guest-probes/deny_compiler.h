// Compiles deny rules (what policy::EnforcementSpec says, as the agent receives them) into
// the fixed-size entries guest_lsm.bpf.c consults at its LSM hooks. Pure: no kernel access,
// so every expressible and inexpressible case is unit-tested.
//
// A rule is installed whole or refused whole with a reason; nothing is silently dropped or
// half-enforced. Lists are ORed and ANDed with each other, so one rule becomes the product
// of its hook x path x comm x cgroup x device-minor alternatives as entries. A syscall a rule
// names is refused at the hook it passes (hook_for): open_by_handle_at at file_open in that
// syscall, io_uring_setup at the creation of its "[io_uring]" file, ...
#pragma once

#include <array>
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
  std::vector<ks_deny_rule> entries;     // rule_id = index into `rules`; grouped by hook type
  std::array<ks_deny_range, KS_EVT_MAX> ranges{};  // per hook type: its entries
  std::vector<std::string> refused;      // "<rule>: <reason>"
  uint32_t installed = 0;                // rules that compiled (some may have 0 entries yet:
                                         // a container rule whose container is not running)
};

// Where an operation of `type` is refused: the LSM hook, and what the hook's record must
// also show for it to be this operation (the syscall it runs in; the name of the file made).
struct HookMatch {
  EventType hook = EventType::none;
  std::optional<int32_t> syscall;
  const char* exact_path = nullptr;
};
std::optional<HookMatch> hook_for(EventType type);

CompiledDenySet compile_deny_set(const std::vector<DenyRule>& rules, const ContainerCgroups& cg);

}  // namespace kata_sentry::guest_probes
