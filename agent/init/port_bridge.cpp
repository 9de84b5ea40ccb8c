#include "agent/init/port_bridge.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace kata_sentry::agent {
namespace {

bool write_all(int fd, const char* data, size_t size) noexcept {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::filesystem::path> find_virtio_port(const std::string& name, std::chrono::milliseconds timeout) {
  namespace fs = std::filesystem;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/class/virtio-ports", ec)) {
      std::ifstream in(entry.path() / "name");
      std::string port_name;
      if (std::getline(in, port_name) && port_name == name) {
        fs::path dev = fs::path("/dev") / entry.path().filename();
        // Tools that expect the udev name find it too.
        fs::create_directories("/dev/virtio-ports", ec);
        ::symlink(dev.c_str(), ("/dev/virtio-ports/" + name).c_str());
        return dev;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(ErrorCode::not_found, "find virtio-serial port \"" + name + "\" in /sys/class/virtio-ports: none after " +
                                            std::to_string(timeout.count()) + " ms");
    }
    ::usleep(20000);
  }
}

Result<PortBridge*> PortBridge::start(const std::filesystem::path& port, int* agent_fd) {
  int port_fd = ::open(port.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (port_fd < 0) return fail_errno("open agent port " + port.string());
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    ::close(port_fd);
    return fail_errno("socketpair for agent port " + port.string());
  }
  // Lives as long as PID 1: the threads are never joined.
  auto* bridge = new PortBridge();
  bridge->port_fd_ = port_fd;
  bridge->socket_fd_ = pair[1];
  bridge->inbound_ = std::thread([bridge] { bridge->port_to_socket(); });
  bridge->outbound_ = std::thread([bridge] { bridge->socket_to_port(); });
  bridge->inbound_.detach();
  bridge->outbound_.detach();
  *agent_fd = pair[0];
  return bridge;
}

void PortBridge::port_to_socket() noexcept {
  char buf[65536];
  bool host_connected = false;
  for (;;) {
    ssize_t n = ::read(port_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) break;
    if (n == 0) {
      // 0 means "host side not connected": wait for it before the first byte, and treat it
      // as the host going away after.
      if (host_connected) break;
      ::usleep(10000);
      continue;
    }
    host_connected = true;
    if (!write_all(socket_fd_, buf, static_cast<size_t>(n))) break;
  }
  ::shutdown(socket_fd_, SHUT_RDWR);
}

void PortBridge::socket_to_port() noexcept {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(socket_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!write_all(port_fd_, buf, static_cast<size_t>(n))) break;
  }
  ::shutdown(socket_fd_, SHUT_RDWR);
}

}  // namespace kata_sentry::agent
