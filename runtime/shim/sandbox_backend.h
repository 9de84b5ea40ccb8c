// The real TaskBackend: one kata-sentry Sandbox (a QEMU VM with the agent) per shim, that is
// per pod. The VM boots on the first create(), containers and exec processes run through the
// agent, stdio is pumped between containerd's FIFOs and the agent, and the VM is destroyed when
// the pod's last container is removed or the shim shuts down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/sandbox/sandbox.h"
#include "runtime/shim/sentryd_link.h"
#include "runtime/shim/task_backend.h"
#include "runtime/shim/ttrpc/socket.h"

namespace kata_sentry::shim {

class SandboxBackend final : public TaskBackend {
 public:
  // `options.id` empty: the sandbox is named after the pod's first container. `sentryd`
  // null: the pod runs without kata-sentryd (tests of the shim alone).
  explicit SandboxBackend(runtime::SandboxOptions options, std::unique_ptr<SentrydLink> sentryd = nullptr);
  ~SandboxBackend() override;  // shutdown()

  void set_observer(BackendObserver observer) override;
  Result<uint32_t> create(const ContainerSpec& spec) override;
  Result<uint32_t> start(const std::string& id, const std::string& exec_id) override;
  Status exec(const ExecSpec& spec) override;
  Status remove(const std::string& id, const std::string& exec_id) override;
  Status kill(const std::string& id, const std::string& exec_id, uint32_t signal, bool all) override;
  Result<std::vector<ProcessInfo>> pids(const std::string& id) override;
  Status resize_pty(const std::string& id, const std::string& exec_id, uint32_t width, uint32_t height) override;
  Status close_stdin(const std::string& id, const std::string& exec_id) override;
  Status pause(const std::string& id) override;
  Status resume(const std::string& id) override;
  Status update(const std::string& id, const std::string& resources_json) override;
  Result<TaskStats> stats(const std::string& id) override;
  void shutdown() override;

 private:
  // One container init or exec process and the threads that serve it.
  struct Proc {
    std::string cid, exec_id;
    Stdio stdio;
    std::string process_json;  // exec only
    UniqueFd in, out, err;
    UniqueFd stdin_stop_r, stdin_stop_w;  // wakes the stdin pump on CloseIO/teardown
    std::thread input, output, waiter;
    std::atomic<bool> output_done{false};
    std::atomic<bool> stdin_closed{false};
    uint32_t pid = 0;
  };
  using Key = std::pair<std::string, std::string>;

  Status open_stdio(Proc& p);
  void start_pumps(const std::shared_ptr<Proc>& p);
  void stop_stdin(Proc& p);
  static void join(Proc& p);
  void report_exit(const Proc& p, uint32_t status);

  // Runs `job` on owner_ and waits for it. QEMU and virtiofsd die with the *thread* that
  // spawned them (PR_SET_PDEATHSIG), and RPC handlers run on short-lived threads, so the VM is
  // booted from this one long-lived thread.
  void on_owner(std::function<void()> job);
  void owner_loop();

  // Boots the pod's VM for its first container, with kata-sentryd watching it before it
  // returns (or, fail-closed, not at all).
  // A CRI pod's sandbox container also brings the pod's network namespace, hostname and shm.
  Result<std::shared_ptr<runtime::Sandbox>> boot(const ContainerSpec& spec, const OciSpec& oci);
  // Unregisters from kata-sentryd, then destroys the VM.
  Status destroy(runtime::Sandbox& sandbox);

  runtime::SandboxOptions options_;
  std::unique_ptr<SentrydLink> sentryd_;
  std::mutex owner_mu_;
  std::condition_variable owner_cv_;
  std::deque<std::function<void()>> owner_jobs_;
  bool owner_stop_ = false;
  std::thread owner_;

  std::mutex mu_;  // guards everything below; never held across agent calls that may block
  BackendObserver observer_;
  std::shared_ptr<runtime::Sandbox> sandbox_;
  std::map<std::string, std::filesystem::path> rootfs_mounts_;  // container id → mounted rootfs
  std::map<Key, std::shared_ptr<Proc>> procs_;
};

}  // namespace kata_sentry::shim
