// The guest side of a CRI pod (Kata's model): the agent recreates the pod's network on the
// virtio-net NICs the host attached (same MAC, name, MTU, addresses, routes) and writes the
// pod's resolv.conf, hosts and hostname files, and mounts the pod's /dev/shm, all under
// guest_paths::kPodDir, where every container of the pod bind-mounts them from. Only the real
// guest agent (PID 1) does this (SandboxSettings::pod_setup).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/net_config.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct PodSetup {
  std::string hostname;
  PodNetworkConfig network;
  std::optional<DnsConfig> dns;  // set: the pod files are written (also with an empty config)
  uint64_t shm_bytes = 0;        // 0: no pod /dev/shm
  bool empty() const { return network.interfaces.empty() && !dns && shm_bytes == 0; }
};

// Brings lo up, then for each interface: finds the NIC by MAC, renames it, sets the MTU, adds
// the addresses, brings it up; then adds the routes. Fails naming the interface and step.
Status apply_pod_network(const PodNetworkConfig& network);

// <kPodDir>/resolv.conf (from dns), hosts (localhost, and each interface address with the
// hostname, as kubelet writes it) and hostname.
Status write_pod_files(const PodSetup& pod);

// A tmpfs of `bytes` at guest_paths::kPodShm (mode 1777, nosuid, nodev, noexec).
Status mount_pod_shm(uint64_t bytes);

}  // namespace kata_sentry::agent
