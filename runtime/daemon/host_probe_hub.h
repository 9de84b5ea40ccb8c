// kata-sentryd's one set of host probes for every sandbox on the node. Per-sandbox probe sets
// would attach every tracepoint program once per pod, so each syscall on the node would run N
// programs; here it runs one, scoped in the kernel to the union of the sandboxes' processes
// and cgroups, and user space routes each record to its sandbox:
//   - by cgroup: QEMU, virtiofsd and their children run in the sandbox's own cgroup v2
//     directory (runtime/vm), so the record's cgroup id names the sandbox;
//   - by process: otherwise the record's pid or one of its ancestors (from the process table)
//     is one of the sandbox's registered pids.
// Records that match no sandbox (a process that just left a scope) are counted and dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry::probes {
class HostProbes;
class ProcTable;
}  // namespace kata_sentry::probes

namespace kata_sentry::daemon {

struct HostProbeHubStats {
  uint64_t records = 0;
  uint64_t decode_errors = 0;
  uint64_t unrouted = 0;       // in the kernel's scope but no longer any sandbox's
  uint64_t ringbuf_drops = 0;  // from the BPF counters
  uint64_t pending_drops = 0;
};

class HostProbeHub {
 public:
  using Sink = std::function<void(Event&&)>;

  // Loads and attaches the probes with an empty scope. Fails naming what could not load.
  static Result<std::unique_ptr<HostProbeHub>> open();
  ~HostProbeHub();  // stops the thread, detaches the probes

  // Adds a sandbox's processes (and their future children) and cgroups to the scope; its
  // records go to `sink`, on the hub's thread.
  Status attach(const std::string& sandbox_id, const std::vector<uint32_t>& pids, const std::vector<std::string>& cgroups,
                Sink sink);
  // Removes them; once this returns, `sink` is not called again.
  void detach(const std::string& sandbox_id);

  HostProbeHubStats stats() const;
  const std::string& backend_report() const;

 private:
  struct Route {
    std::vector<uint32_t> pids;
    std::vector<uint64_t> cgroup_ids;
    Sink sink;
  };
  HostProbeHub() = default;
  void loop() noexcept;
  // Under mu_: the sandbox the event belongs to, or nullptr.
  Route* route_locked(const Event& event);

  std::unique_ptr<probes::HostProbes> probes_;
  std::unique_ptr<probes::ProcTable> procs_;  // loop thread only
  mutable std::mutex mu_;                     // routes_, stats_; held while a sink runs
  std::map<std::string, Route> routes_;
  HostProbeHubStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kata_sentry::daemon
