// One set of host probes for every sandbox this process watches (kata-sentryd's node, or the
// one sandbox of `kata-sentry run`). Per-sandbox probe sets would attach every tracepoint
// program once per pod, so each syscall on the node would run N programs; here it runs one,
// scoped in the kernel to the union of the sandboxes' processes and cgroups, and user space
// routes each record to its sandbox:
//   - by cgroup: QEMU, virtiofsd and their children run in the sandbox's own cgroup v2
//     directory (runtime/vm), so the record's cgroup id names the sandbox;
//   - by process: otherwise the record's pid or one of its ancestors (from the process table)
//     is one of the sandbox's registered pids.
// Records that match no sandbox (a process that just left a scope) are counted and dropped.
//
// Isolation: the hub's lock only guards the routing table. A sandbox's sink is called outside
// it (under that sandbox's own lock, so detach() can wait for a call in progress) and must not
// wait: SandboxMonitor::feed_host queues or drops. One sandbox can never delay another's events.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/field_filters.h"
#include "core/result.h"

namespace kata_sentry::probes {
class HostEventReader;
}

namespace kata_sentry::monitor {

struct HostProbeHubStats {
  uint64_t records = 0;
  uint64_t decode_errors = 0;
  uint64_t unrouted = 0;       // in the kernel's scope but no longer any sandbox's
  uint64_t ringbuf_drops = 0;  // from the BPF counters
  uint64_t pending_drops = 0;
  uint64_t filtered = 0;       // syscalls of watched processes not built: no sandbox's rules want their type
  uint64_t filtered_fields = 0;  // ... of a wanted type, but no sandbox's rules want their path or comm
};

class HostProbeHub {
 public:
  // Must not block: it runs on the hub's thread for every record of the sandbox.
  using Sink = std::function<void(Event&&)>;
  // Event types (bit N = EventType N) a sandbox's consumers can use; see attach() and set_want_all().
  using TypeMask = std::bitset<kEventTypeSlots>;

  // Loads the probes and attaches the process lifecycle programs, with an empty scope and no
  // type wanted. Fails naming what could not load.
  static Result<std::unique_ptr<HostProbeHub>> open();
  ~HostProbeHub();  // stops the thread, detaches the probes

  // Adds a sandbox's processes (and their future children) and cgroups to the scope; its
  // records go to `sink`, on the hub's thread. `wanted`: the event types its rules can use
  // (policy::types_needed); every type by default. `fields`: the path and comm conditions of
  // those types (policy::field_filters_needed); none by default.
  Status attach(const std::string& sandbox_id, const std::vector<uint32_t>& pids, const std::vector<std::string>& cgroups,
                Sink sink, const TypeMask& wanted = TypeMask().set(), const FieldFilters& fields = {});
  // In-kernel filtering: the probes build records only of the types some attached sandbox
  // wants, and of those only the paths and comms some sandbox's rules can match (the union:
  // the probe set is shared), or of every type and path while want_all is on (a
  // kata-trace subscriber follows raw events). Updated in place: a type wanted for the first
  // time attaches its programs, and nothing is ever detached before the hub goes.
  Status set_want_all(bool want_all);
  // Another process of an attached sandbox (and its future children).
  Status watch(const std::string& sandbox_id, uint32_t pid);
  // Removes them; once this returns, `sink` is not called again.
  void detach(const std::string& sandbox_id);

  HostProbeHubStats stats() const;
  const std::string& backend_report() const;

 private:
  struct Route {
    std::vector<uint32_t> pids;
    std::vector<uint64_t> cgroup_ids;
    TypeMask wanted;     // under mu_
    FieldFilters fields; // under mu_
    std::mutex sink_mu;  // held while the sink runs; detach() takes it to wait for a call in progress
    Sink sink;           // empty once detached
  };
  HostProbeHub() = default;
  void loop() noexcept;
  // Under mu_: the sandbox the event belongs to, or null.
  std::shared_ptr<Route> route_locked(const Event& event) const;
  // Pushes the union of the routes' wanted types (or all) to the kernel when it changed.
  Status push_wanted_types();

  std::unique_ptr<probes::HostEventReader> reader_;  // the loop thread polls it
  std::string backend_report_;
  mutable std::mutex mu_;  // routes_ and the counters below; never held while a sink runs
  std::map<std::string, std::shared_ptr<Route>> routes_;
  uint64_t records_ = 0, unrouted_ = 0;
  std::atomic<uint64_t> decode_errors_{0};
  bool want_all_ = false;  // under mu_
  std::mutex push_mu_;     // serialises push_wanted_types(); taken before mu_
  std::optional<TypeMask> pushed_ = TypeMask();  // under push_mu_: what the kernel has (nullopt: unknown)
  std::optional<FieldFilters> pushed_fields_ = FieldFilters();  // under push_mu_: likewise
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kata_sentry::monitor
