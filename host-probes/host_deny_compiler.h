// Compiles host-view deny rules (what policy::EnforcementSpec says) into the entries that
// host_deny.bpf.c consults at the sandbox cgroup's connect4/6, sendmsg4/6 and dev hooks.
// Pure but for the device-node lookup, which is injectable, so every expressible and
// inexpressible case is unit-tested.
//
// A rule is installed whole or refused whole with a reason, like the guest deny compiler:
// a cgroup program sees a destination (address, port) or a device number, plus the
// task's uid and comm, and nothing else. Lists are ORed and ANDed with each other, so one
// rule becomes the product of its port x address x comm alternatives.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <linux/types.h>

#include "core/event.h"
#include "core/result.h"
#include "host-probes/bpf/host_deny_abi.h"

namespace kata_sentry::probes {

struct HostDenyRule {
  std::string name;
  std::vector<EventType> event_types;
  std::vector<std::string> exact_paths;    // device nodes (resolved to type + major:minor)
  std::vector<std::string> path_prefixes;  // refused: cgroup/dev sees no paths
  std::vector<std::string> binaries;       // refused: no exe path at cgroup hooks
  std::vector<std::string> comms;
  std::optional<uint32_t> uid;
  bool any_container = false;              // refused: containers are a guest notion
  std::vector<std::string> container_ids;  // refused
  std::vector<uint64_t> cgroup_ids;        // refused: the programs sit on one cgroup already
  std::vector<uint16_t> socket_families;   // AF_INET, AF_INET6
  std::vector<uint16_t> ports;
  std::vector<std::string> ip_nets;        // "10.0.0.0/8", "::1", "127.0.0.1"
};

struct DeviceNode {
  uint32_t type = 0;  // BPF_DEVCG_DEV_CHAR (2) or BPF_DEVCG_DEV_BLOCK (1)
  uint32_t major = 0;
  uint32_t minor = 0;
};
// stat(2) of a path that must be a device node.
using DeviceResolver = std::function<Result<DeviceNode>(const std::string& path)>;
Result<DeviceNode> stat_device_node(const std::string& path);

struct CompiledHostDenySet {
  std::vector<ks_host_deny_rule> connect;  // rule_id = index into the input rules
  std::vector<ks_host_deny_rule> device;
  std::vector<std::string> installed;      // names of the rules that compiled
  std::vector<std::string> refused;        // "<rule>: <reason>"
};

// Parses "a.b.c.d[/n]" or an IPv6 address with an optional "/n" into the 16-byte form the
// programs compare (IPv4 as ::ffff:a.b.c.d with n + 96 bits).
Result<std::pair<std::array<uint8_t, 16>, uint8_t>> parse_ip_net(const std::string& text);

CompiledHostDenySet compile_host_deny_set(const std::vector<HostDenyRule>& rules,
                                          const DeviceResolver& resolve = stat_device_node);

}  // namespace kata_sentry::probes
