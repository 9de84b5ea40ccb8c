// A private nats-server with JetStream for tests: its own port and store directory, started and
// stopped by the test (the same store survives a restart, as a real server's does).
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/exporters/rsyslog_server.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::test_support {

class NatsServer {
 public:
  NatsServer() : dir_("ks-nats-"), port_(free_port(SOCK_STREAM)) {}
  ~NatsServer() { stop(); }

  // Starts it and waits for "Server is ready". Fails with its log.
  Status start() {
    auto st = proc_.start({"nats-server", "-js", "-a", "127.0.0.1", "-p", std::to_string(port_), "-sd", (dir_.path() / "store").string()},
                          dir_.path() / "nats.log");
    if (!st) return st;
    if (!proc_.wait_for_log("Server is ready", std::chrono::seconds(30)))
      return fail(ErrorCode::timeout, "nats-server is not ready: " + log_text());
    return {};
  }
  void stop() { proc_.stop(); }
  pid_t pid() const { return proc_.pid(); }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  std::string log_text() const {
    std::ifstream in(dir_.path() / "nats.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  TempDir dir_;
  int port_;
  Background proc_;
};

}  // namespace kata_sentry::test_support
