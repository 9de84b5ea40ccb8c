#include "agent/service/agent_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <mutex>
#include <thread>

#include "agent/service/agent_service.h"
#include "agent/service/sandbox.h"
#include "core/unique_fd.h"
#include "guest-probes/guest_sensor.h"
#include "core/logging.h"

namespace kata_sentry::agent {
namespace {

// Handler threads are bounded so a flood of calls from the host cannot exhaust the guest;
// each long-lived WaitProcess/ReadOutput holds one.
constexpr int kMaxServerThreads = 128;
constexpr auto kShutdownGrace = std::chrono::seconds(2);

// Ends serving when DestroySandbox finished or the peer hung up.
class StopLatch {
 public:
  void trigger(const char* why) {
    std::lock_guard lock(mu_);
    if (!why_) why_ = why;
    cv_.notify_all();
  }
  const char* wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return why_ != nullptr; });
    return why_;
  }
  bool triggered() {
    std::lock_guard lock(mu_);
    return why_ != nullptr;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const char* why_ = nullptr;
};

}  // namespace

Status serve_agent(int channel_fd, const AgentServerOptions& options) {
  if (channel_fd < 0) return fail(ErrorCode::invalid_argument, "agent: no channel fd");
  UniqueFd channel(channel_fd);
  auto log = logger("agent");
  // Container processes must never inherit the channel; gRPC wants it non-blocking.
  if (::fcntl(channel.get(), F_SETFD, FD_CLOEXEC) != 0) return fail_errno("agent: fcntl channel");
  int fl = ::fcntl(channel.get(), F_GETFL);
  if (fl < 0 || ::fcntl(channel.get(), F_SETFL, fl | O_NONBLOCK) != 0)
    return fail_errno("agent: fcntl channel");
  // A process that closes its stdin must not kill the agent when WriteStdin hits EPIPE.
  // (Container children reset every signal disposition before execve.)
  ::signal(SIGPIPE, SIG_IGN);
  // gRPC owns the channel fd; a duplicate lets us see the peer hang up.
  UniqueFd watch(::fcntl(channel.get(), F_DUPFD_CLOEXEC, 3));
  if (!watch.valid()) return fail_errno("agent: dup channel");

  SandboxSettings settings;
  settings.shared_dir = options.shared_dir;
  settings.cgroup_parent = options.cgroup_parent;
  settings.set_hostname = options.set_hostname;
  settings.pod_setup = options.pod_setup;
  settings.max_containers = options.max_containers;
  settings.max_processes = options.max_processes;
  if (options.sensor) {
    // Attribution and container deny rules are in the kernel before the container's init runs.
    settings.on_container_cgroup = [sensor = options.sensor](const std::string& id,
                                                             const std::filesystem::path& dir) {
      sensor->container_changed(id, dir, true);
    };
  }
  Sandbox sandbox(std::move(settings));
  StopLatch stop;
  std::atomic<bool> shutting_down{false};
  AgentService service(
      sandbox, options.cgroup_parent, [&] { stop.trigger("DestroySandbox"); },
      [&] { return shutting_down.load(); }, options.sensor);

  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  // The host pings (HTTP/2 keepalive) to notice a hung guest during long calls; accept those
  // pings instead of answering them with GOAWAY "too_many_pings".
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  grpc::ResourceQuota quota("kata-sentry-agent");
  quota.SetMaxThreads(kMaxServerThreads);
  builder.SetResourceQuota(quota);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return fail(ErrorCode::internal, "agent: BuildAndStart gRPC server");
  grpc::AddInsecureChannelFromFd(server.get(), channel.release());
  log->info("agent serving on the channel");

  std::thread watcher([&] {
    while (!stop.triggered()) {
      pollfd pfd{watch.get(), POLLRDHUP, 0};
      if (::poll(&pfd, 1, 200) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        stop.trigger("peer hung up");
        return;
      }
    }
  });

  const char* why = stop.wait();
  log->info("agent stopping: {}", why);
  shutting_down = true;  // blocking handlers return within one poll interval
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  watcher.join();
  server->Wait();
  return {};  // ~Sandbox kills and reaps whatever still runs
}

}  // namespace kata_sentry::agent
