// A pod's network as the guest must recreate it: the interfaces CNI made in the pod's network
// namespace on the host (name, MAC, MTU, addresses) and the routes through them.
// The shim reads it on the host (runtime/network/pod_network.h), the agent applies it
// in the guest (agent/service/guest_network.h); between them it travels as agent.proto's
// CreateSandboxRequest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace kata_sentry {

// An address with its prefix length, IPv4 or IPv6.
struct IpPrefix {
  int family = 0;                  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 uses the first 4
  uint8_t prefix_len = 0;

  bool operator==(const IpPrefix&) const = default;
};

// "10.1.2.3/24", "fd00::2/64"; without "/N" the prefix is the full length (a host address).
Result<IpPrefix> parse_ip_prefix(std::string_view text);
// An address alone ("10.1.2.1"), prefix = full length.
Result<IpPrefix> parse_ip(std::string_view text);
// "10.1.2.3/24"; with_prefix=false: "10.1.2.3".
std::string format_ip(const IpPrefix& p, bool with_prefix = true);
size_t ip_length(int family);  // 4 or 16 (0 for an unknown family)

using MacAddress = std::array<uint8_t, 6>;
Result<MacAddress> parse_mac(std::string_view text);  // "02:42:ac:11:00:02"
std::string format_mac(const MacAddress& mac);

struct NetInterfaceConfig {
  std::string name;                // the name in the pod's netns, e.g. "eth0"; reused in the guest
  MacAddress mac{};                // the guest NIC gets the same MAC (the veth peer's ARP entries stay right)
  uint32_t mtu = 1500;
  std::vector<IpPrefix> addresses;
};

struct NetRouteConfig {
  std::optional<IpPrefix> destination;  // nullopt: the default route
  std::optional<IpPrefix> gateway;      // nullopt: on-link
  std::string device;                   // an interface name from the config
};

struct PodNetworkConfig {
  std::vector<NetInterfaceConfig> interfaces;
  std::vector<NetRouteConfig> routes;
};

}  // namespace kata_sentry
