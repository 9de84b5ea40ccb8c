// The daemon's unix socket, reachable by root only: the socket file is mode 0600 in a 0700
// directory, and every accepted connection is checked with SO_PEERCRED (uid 0) before it is
// handed to the gRPC server, so a container breakout running as an unprivileged host user
// cannot talk to the daemon even if the file modes were loosened.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "core/result.h"

namespace grpc {
class Server;
}

namespace kata_sentry::daemon {

class RootOnlyListener {
 public:
  // Binds `path` (a stale socket nobody answers on is replaced; a live one is an error).
  static Result<std::unique_ptr<RootOnlyListener>> bind(const std::string& path);
  ~RootOnlyListener();  // stop()

  // Accepts connections on a thread and adds each root peer's to `server`.
  void serve(grpc::Server& server);
  void stop();  // stops accepting and removes the socket file
  uint64_t refused() const { return refused_.load(); }
  const std::string& path() const { return path_; }

 private:
  RootOnlyListener(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void accept_loop(grpc::Server& server);

  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::string path_;
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace kata_sentry::daemon
