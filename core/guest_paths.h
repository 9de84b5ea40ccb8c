// Paths inside the guest VM that the host (runtime/) and the agent (agent/) must agree on:
// the host names them in what it sends (CreateSandbox, container specs), the agent creates them.
#pragma once

namespace kata_sentry::guest_paths {

// Where the agent mounts the virtio-fs share (the host's <sandbox dir>/shared).
inline constexpr const char* kShareDir = "/run/kata-sentry/shared";
// A CRI pod's files, shared by all its containers: resolv.conf, hosts, hostname, and the pod's
// /dev/shm tmpfs. The host rewrites the CRI plugin's bind mounts of these to the files here.
inline constexpr const char* kPodDir = "/run/kata-sentry/pod";
inline constexpr const char* kPodResolvConf = "/run/kata-sentry/pod/resolv.conf";
inline constexpr const char* kPodHosts = "/run/kata-sentry/pod/hosts";
inline constexpr const char* kPodHostname = "/run/kata-sentry/pod/hostname";
inline constexpr const char* kPodShm = "/run/kata-sentry/pod/shm";

}  // namespace kata_sentry::guest_paths
