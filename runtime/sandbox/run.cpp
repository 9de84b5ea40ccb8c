#include "runtime/sandbox/run.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/logging.h"

namespace kata_sentry::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away (e.g. `| head`): drop the rest
    data.remove_prefix(static_cast<size_t>(n));
  }
}

class PhaseClock {
 public:
  explicit PhaseClock(bool verbose) : verbose_(verbose), start_(Clock::now()) {}
  void at(const std::string& phase, std::chrono::milliseconds since_start) const {
    if (verbose_) std::fprintf(stderr, "kata-sentry: %-28s %7.3f s\n", phase.c_str(), since_start.count() / 1000.0);
  }
  void now(const std::string& phase) const {
    at(phase, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_));
  }
  std::chrono::milliseconds elapsed() const { return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_); }

 private:
  bool verbose_;
  Clock::time_point start_;
};

}  // namespace

Result<int> run_container(const RunRequest& req, const std::atomic<int>& interrupt) {
  PhaseClock clock(req.verbose);
  if (int sig = interrupt.load()) return 128 + sig;
  SandboxOptions options = req.sandbox;
  options.interrupt = &interrupt;
  auto created = Sandbox::create(options);
  if (!created) {
    if (int sig = interrupt.load()) return 128 + sig;
    return std::unexpected(created.error());
  }
  std::unique_ptr<Sandbox> sb = std::move(*created);
  clock.at(std::string("vm started (") + vm::accelerator_name(sb->vm().accelerator()) + ")", sb->timings().vm_started);
  clock.at("agent ready", sb->timings().agent_ready);
  const std::string& cid = req.container_id;
  AgentClient& agent = sb->agent();

  // Ctrl-C/SIGTERM: kill the container so that the main path below returns and tears down; if
  // the guest does not react, kill QEMU, which breaks every pending agent call.
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load() && interrupt.load() == 0) std::this_thread::sleep_for(20ms);
    if (done.load()) return;
    (void)agent.signal_process(cid, "", SIGKILL);
    auto deadline = Clock::now() + 5s;
    while (!done.load() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    if (!done.load()) sb->vm().kill_qemu();
  });
  bool observed = false;
  auto finish = [&](Result<int> result) -> Result<int> {
    done = true;
    watcher.join();
    if (observed) {
      req.observer->detach(result.has_value());
      clock.now("monitor detached");
    }
    auto teardown = sb->destroy();
    clock.now("torn down");
    if (int sig = interrupt.load()) return 128 + sig;
    if (result && !teardown) logger("runtime")->warn("{}", teardown.error().describe());
    return result;
  };

  // The observer attaches while the container is created: its attach waits for the guest
  // sensor (seconds of BPF verification under TCG), which creating does not need. The guest
  // queues events from its start, and StartContainer, below both, is what lets the workload run.
  Status attached;
  std::thread attacher;
  if (req.observer) {
    attacher = std::thread([&] {
      attached = req.observer->attach(*sb, cid);
      if (attached) clock.now("monitor attached");
    });
  }
  Status created_container = sb->create_container(cid, req.spec, req.rootfs, req.interactive);
  if (created_container) clock.now("container created");
  if (attacher.joinable()) {
    attacher.join();
    observed = attached.has_value();
    if (!attached) return finish(std::unexpected(attached.error()));
  }
  if (!created_container) return finish(std::unexpected(created_container.error()));
  if (auto st = agent.start_container(cid); !st) return finish(std::unexpected(sb->explain(st.error())));
  clock.now("container started");

  Status output_status;
  std::thread output([&] {
    output_status = agent.read_output(
        cid, "", [&](std::string_view d) { write_all(req.stdout_fd, d); }, [&](std::string_view d) { write_all(req.stderr_fd, d); });
  });
  std::thread input;
  if (req.interactive) {
    input = std::thread([&] {
      char buf[16384];
      while (!done.load()) {
        pollfd p{req.stdin_fd, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = ::read(req.stdin_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!agent.write_stdin(cid, "", std::string_view(buf, static_cast<size_t>(n)))) return;
      }
      (void)agent.close_stdin(cid, "");
    });
  }

  auto waited = agent.wait_process(cid, "");
  output.join();
  done = true;
  if (input.joinable()) input.join();
  if (!waited) return finish(std::unexpected(sb->explain(waited.error())));
  clock.now("exited (status " + std::to_string(waited->shell_code()) + ")");
  if (!output_status) logger("runtime")->warn("container {} output: {}", cid, output_status.error().describe());
  return finish(waited->shell_code());
}

}  // namespace kata_sentry::runtime
