// The agent channel inside the guest: gRPC needs a socket, the host reaches us through a
// virtio-serial character device, so two threads copy bytes between the port and one end of a
// socketpair whose other end the agent serves on.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/result.h"

namespace kata_sentry::agent {

// /dev/vportNpM whose /sys/class/virtio-ports/*/name equals `name`; waits up to `timeout` for the
// port to appear (the device is probed asynchronously after virtio_console loads).
Result<std::filesystem::path> find_virtio_port(const std::string& name, std::chrono::milliseconds timeout);

class PortBridge {
 public:
  // Opens the port and starts copying. Returns the bridge and, via agent_fd, the socket end the
  // agent serves on (owned by the caller). While the host has not connected, reads of the port
  // return 0 and are retried; once the host has connected and then goes away, the agent's socket
  // is shut down so that serve_agent() sees the hang-up.
  static Result<PortBridge*> start(const std::filesystem::path& port, int* agent_fd);

 private:
  PortBridge() = default;
  void port_to_socket() noexcept;
  void socket_to_port() noexcept;

  int port_fd_ = -1;
  int socket_fd_ = -1;
  std::thread inbound_, outbound_;
};

}  // namespace kata_sentry::agent
