// The host side of a pod's network, Kata's model: CNI (run by containerd before the sandbox
// starts) made a veth in the pod's network namespace; the VM needs that network inside the
// guest. For each CNI interface in the namespace, PodNetwork
//   - reads its MAC, MTU, addresses and routes (what the guest must recreate),
//   - creates a tap in the same namespace and opens it for QEMU (virtio-net, same MAC),
//   - wires veth and tap together with tc (tc_redirect.h), so that frames pass between the
//     pod's network and the VM without the namespace's own IP stack.
// QEMU reads and writes the tap through the fd it inherits: the VMM makes no socket call for the
// pod's traffic, so the cgroup connect/sendmsg deny programs on the VMM's cgroup keep guarding
// only the VMM's own sockets.
//
// Teardown (detach(), also from the destructor): the ingress qdiscs (and with them the filters)
// are removed and the tap fds closed; a tap is not persistent, so it vanishes once QEMU, which
// holds the other fd, is gone. Deleting the veth and the namespace is CNI DEL's job
// (containerd's).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/net_config.h"
#include "core/netlink.h"
#include "core/unique_fd.h"

namespace kata_sentry::network {

struct PodNic {
  std::string cni_name;  // the CNI interface, e.g. "eth0" (the guest's NIC gets this name)
  std::string tap_name;  // "ks-tap0", ...
  MacAddress mac{};
  UniqueFd tap;          // for QEMU: -netdev tap,fd=...
};

class PodNetwork {
 public:
  // Wires every CNI interface of the namespace at `netns_path` (a bind-mounted netns such as
  // /var/run/netns/cni-…). Fails naming the step and the interface; whatever was set up is
  // removed again. A namespace with no interface but lo is an error (a pod without network has
  // no netns path in its spec and never comes here).
  static Result<std::unique_ptr<PodNetwork>> attach(const std::filesystem::path& netns_path);
  ~PodNetwork();
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  const PodNetworkConfig& guest_config() const { return config_; }
  std::vector<PodNic>& nics() { return nics_; }
  const std::filesystem::path& netns_path() const { return netns_path_; }

  // Removes the tc wiring and closes the taps. Call after QEMU is gone. Idempotent; reports the
  // first problem but always does every step.
  Status detach();

 private:
  PodNetwork() = default;

  std::filesystem::path netns_path_;
  UniqueFd netns_;  // the namespace stays reachable for detach() even if its path is unmounted
  std::unique_ptr<netlink::Socket> nl_;  // opened inside the namespace
  PodNetworkConfig config_;
  std::vector<PodNic> nics_;
  std::vector<netlink::Link> wired_;  // every link given an ingress qdisc
  bool detached_ = false;
};

}  // namespace kata_sentry::network
