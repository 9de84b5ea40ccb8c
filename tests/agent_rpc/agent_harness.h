// Runs the real agent service against the real client over a socketpair, either on a thread of
// the test process or as a separate process (agent_rpc_server_helper), so that tests can kill
// the "guest" from outside. Destruction tears everything down (client, server, child).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "agent/service/agent_server.h"
#include "runtime/agent_client/agent_client.h"

extern char** environ;

namespace kata_sentry::testing {

struct SocketPair {
  int host = -1, guest = -1;
  SocketPair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      host = sv[0];
      guest = sv[1];
    }
  }
};

// serve_agent() on a thread; the client owns the other end.
class InProcessAgent {
 public:
  explicit InProcessAgent(agent::AgentServerOptions server_options,
                          runtime::AgentClientOptions client_options = {}) {
    SocketPair sp;
    server_ = std::thread([fd = sp.guest, server_options, this] {
      served_ = agent::serve_agent(fd, server_options);
    });
    auto c = runtime::AgentClient::connect(sp.host, client_options);
    if (c) client_ = std::move(*c);
  }
  ~InProcessAgent() { stop(); }

  runtime::AgentClient* client() { return client_.get(); }
  // Closes the host end (the guest sees a hang-up) and waits for serve_agent to return.
  Status stop() {
    client_.reset();
    if (server_.joinable()) server_.join();
    return served_;
  }
  // Waits for serve_agent to return by itself (after DestroySandbox).
  Status join() {
    if (server_.joinable()) server_.join();
    return served_;
  }

 private:
  std::unique_ptr<runtime::AgentClient> client_;
  std::thread server_;
  Status served_;
};

// The agent in its own process (fd 3 is its channel).
class AgentProcess {
 public:
  AgentProcess(const std::string& helper, const std::filesystem::path& shared_dir,
               const std::filesystem::path& cgroup_parent,
               runtime::AgentClientOptions client_options = {}) {
    SocketPair sp;
    int guest = ::fcntl(sp.guest, F_DUPFD_CLOEXEC, 10);  // never already 3: dup2 must clear CLOEXEC
    ::close(sp.guest);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, guest, 3);
    std::string sd = shared_dir.string(), cg = cgroup_parent.string();
    const char* argv[] = {helper.c_str(), sd.c_str(), cg.c_str(), nullptr};
    if (::posix_spawn(&pid_, helper.c_str(), &fa, nullptr, const_cast<char**>(argv), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(guest);
    auto c = runtime::AgentClient::connect(sp.host, client_options);
    if (c) client_ = std::move(*c);
  }
  ~AgentProcess() {
    client_.reset();
    kill();
  }
  runtime::AgentClient* client() { return client_.get(); }
  pid_t pid() const { return pid_; }
  // SIGKILL: the guest dies without a word.
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  std::unique_ptr<runtime::AgentClient> client_;
};

}  // namespace kata_sentry::testing
