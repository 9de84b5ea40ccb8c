// The guest side of a CRI pod (Kata's model): the agent recreates the pod's network on the
// virtio-net NICs the host attached (same MAC, name, MTU, addresses, routes) and mounts the
// pod's /dev/shm at guest_paths::kPodShm, which every container of the pod bind-mounts. The
// pod's resolv.conf, hosts and hostname files are the CRI plugin's own, bind-mounted from the
// host through virtio-fs like any other volume. Only the real guest agent (PID 1) does this
// (SandboxSettings::pod_setup).
#pragma once

#include <cstdint>
#include <string>

#include "core/net_config.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct PodSetup {
  std::string hostname;
  PodNetworkConfig network;
  uint64_t shm_bytes = 0;        // 0: no pod /dev/shm
  bool empty() const { return network.interfaces.empty() && shm_bytes == 0; }
};

// Brings lo up, then for each interface: finds the NIC by MAC, renames it, sets the MTU, adds
// the addresses, brings it up; then adds the routes. Fails naming the interface and step.
Status apply_pod_network(const PodNetworkConfig& network);

// A tmpfs of `bytes` at guest_paths::kPodShm (mode 1777, nosuid, nodev, noexec).
Status mount_pod_shm(uint64_t bytes);

}  // namespace kata_sentry::agent
