// What the Task service needs from whatever runs the containers. The service (task_service.h)
// owns the containerd-facing state machine (created → running → stopped, exit records,
// waiters, events); a backend only does the work: in kata-sentry, a pod's VM and the agent
// in it. Backends are called from many RPC threads at once and must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::shim {

using Clock = std::chrono::system_clock;

// The FIFOs containerd created for a process; empty paths mean "not connected".
struct Stdio {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

struct RootfsMount {
  std::string type;     // "overlay", "bind", ...
  std::string source;
  std::string target;
  std::vector<std::string> options;
};

struct ContainerSpec {
  std::string id;
  std::string bundle;  // holds config.json (the OCI spec) and rootfs/
  std::vector<RootfsMount> rootfs;
  Stdio stdio;
};

struct ExecSpec {
  std::string container_id;
  std::string exec_id;
  Stdio stdio;
  std::string process_json;  // the OCI runtime-spec Process, JSON as containerd sends it
};

struct ExitInfo {
  uint32_t pid = 0;
  uint32_t exit_status = 0;  // 128 + signal when killed by a signal
  Clock::time_point exited_at{};
};

struct ProcessInfo {
  uint32_t pid = 0;
};

struct TaskStats {
  uint64_t cpu_usage_ns = 0;
  uint64_t memory_usage_bytes = 0;
  uint64_t pids_current = 0;
};

// How a backend reports what happens asynchronously. Called from backend threads; the
// service must not be called back into from inside these.
struct BackendObserver {
  // A started process (container init when exec_id is empty) exited. Exactly once per start.
  std::function<void(const std::string& id, const std::string& exec_id, const ExitInfo&)> on_exit;
  // The container hit its memory limit.
  std::function<void(const std::string& id)> on_oom;
};

class TaskBackend {
 public:
  virtual ~TaskBackend() = default;

  virtual void set_observer(BackendObserver observer) = 0;

  // Creates the container (booting the pod's VM for its first one); returns the pid that
  // containerd will show for the task. Does not run the user's process yet.
  virtual Result<uint32_t> create(const ContainerSpec& spec) = 0;
  // Starts a created container's init process, or a created exec; returns its pid.
  virtual Result<uint32_t> start(const std::string& id, const std::string& exec_id) = 0;
  // Registers an exec process (not started yet).
  virtual Status exec(const ExecSpec& spec) = 0;
  // Removes what create/exec made; the process has exited or never started.
  virtual Status remove(const std::string& id, const std::string& exec_id) = 0;
  // Sends a signal to the process, or to every process of the container when `all`.
  virtual Status kill(const std::string& id, const std::string& exec_id, uint32_t signal, bool all) = 0;
  virtual Result<std::vector<ProcessInfo>> pids(const std::string& id) = 0;
  virtual Status resize_pty(const std::string& id, const std::string& exec_id, uint32_t width, uint32_t height) = 0;
  virtual Status close_stdin(const std::string& id, const std::string& exec_id) = 0;
  virtual Status pause(const std::string& id) = 0;
  virtual Status resume(const std::string& id) = 0;
  // `resources_json`: the OCI LinuxResources as containerd sends them.
  virtual Status update(const std::string& id, const std::string& resources_json) = 0;
  virtual Result<TaskStats> stats(const std::string& id) = 0;
  // Stops everything (the VM); afterwards every started process has been reported exited.
  virtual void shutdown() = 0;
};

}  // namespace kata_sentry::shim
