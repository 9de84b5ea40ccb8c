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
  // What only the guest LSM checks (policy::EnforcementSpec says where each comes from):
  std::vector<std::string> exe_prefixes;  // exec: the file being run
  std::vector<std::string> fstypes;       // mount: the file system type
  char mount_side = 0;                    // mount paths: 0 source or target, 's' source, 't' target
  struct Arg {
    std::string name;     // an argument of the hook's record (event_arg_names)
    uint64_t value = 0;
    bool any_bit = false; // (arg & value) != 0; else arg == value
    bool operator==(const Arg&) const = default;
  };
  std::optional<Arg> arg;
  std::optional<int32_t> syscall;         // the syscall the hook runs in
  std::optional<uint32_t> rdev_major;     // the object is this device...
  std::vector<uint32_t> rdev_minors;      // ...with one of these minors (empty: any)
  char device_kind = 0;                   // 'c' / 'b': a char / block device node
  bool unlinked = false;                  // the file has no link left
  std::optional<uint32_t> fs_magic;       // the file system holding the object
  // Operations the rule leaves alone (an opt-out, `and not (...)`): each an AND of the
  // matchers above, without event types.
  std::vector<DenyRule> exceptions;
};

}  // namespace kata_sentry
