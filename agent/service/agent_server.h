// Entry point of the in-guest gRPC agent service (proto/agent.proto). The guest init mounts
// the filesystems, finds the virtio-serial port, bridges it into a socketpair and hands one
// end to serve_agent().
#pragma once

#include <cstddef>
#include <filesystem>

#include "core/guest_paths.h"
#include "core/result.h"

namespace kata_sentry::guest_probes { class GuestSensor; }
namespace kata_sentry::agent {
template <typename Sensor> class BackgroundSensor;
}

namespace kata_sentry::agent {

struct AgentServerOptions {
  // The virtio-fs mount: bundles live at <shared_dir>/<container_id>/ (config.json may also
  // come in the RPC). CreateSandbox may name another absolute directory.
  std::filesystem::path shared_dir = guest_paths::kShareDir;
  // Container cgroups are created below it (created if missing).
  std::filesystem::path cgroup_parent = "/sys/fs/cgroup/kata-sentry";
  // Larger requests are refused by gRPC with RESOURCE_EXHAUSTED.
  size_t max_message_bytes = 4 << 20;
  // Whether CreateSandbox may call sethostname(). The guest init sets it; tests leave it off
  // so that an in-process agent never renames the host.
  bool set_hostname = false;
  // Whether CreateSandbox may set up a CRI pod's network, files and shm (the guest init sets it).
  bool pod_setup = false;
  // Bounds on what the host may make the agent hold.
  size_t max_containers = 64;
  size_t max_processes = 512;  // live or not-yet-collected processes, all containers
  // The in-guest sensor behind StreamEvents/SetEnforcement/KillGuestProcess (not owned),
  // possibly still starting (those RPCs and StartContainer wait for it); null: those RPCs
  // answer UNAVAILABLE.
  BackgroundSensor<guest_probes::GuestSensor>* sensor = nullptr;
};

// Serves the Agent service on an already-connected byte stream (e.g. one end of a socketpair
// that the init bridges to the virtio-serial port). Takes ownership of channel_fd (it is made
// close-on-exec, so container processes can never reach it). Blocks until DestroySandbox
// completes or the peer goes away (the stream reports hang-up); every container and process
// still running is then killed and reaped. Fails naming the step, e.g.
// "agent: AddInsecureChannelFromFd", only if serving could not start.
Status serve_agent(int channel_fd, const AgentServerOptions& options);

}  // namespace kata_sentry::agent
