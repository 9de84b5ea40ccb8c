// Paths inside the guest VM that the host (runtime/) and the agent (agent/) must agree on:
// the host names them in what it sends (CreateSandbox, container specs), the agent creates them.
#pragma once

namespace kata_sentry::guest_paths {

// Where the agent mounts the virtio-fs share (the host's <sandbox dir>/shared).
inline constexpr const char* kShareDir = "/run/kata-sentry/shared";
// A CRI pod's /dev/shm: one tmpfs in the guest shared by all the pod's containers. The host
// rewrites the CRI plugin's /dev/shm bind mount (a host tmpfs) to this path.
inline constexpr const char* kPodShm = "/run/kata-sentry/pod/shm";

}  // namespace kata_sentry::guest_paths
