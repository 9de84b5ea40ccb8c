// The in-guest sensor: loads the guest LSM programs (guest_lsm.bpf.c: LSM events and the
// deny set) and the host-probes tracepoint object (syscall events, scoped in the kernel to
// the containers' cgroups so the agent's own work is not traced), reads both ring buffers
// on one thread in time order, describes each event's process from a process table (argv,
// cwd, parent and ancestors: the records carry them only at exec), attributes each event to
// its container, and queues it for the one StreamEvents call. libbpf stays inside the .cpp.
//
// Capability detection: without "bpf" in /sys/kernel/security/lsm the LSM programs would
// load but never run, so they are not loaded, lsm_enforcing() is false and
// lsm_unavailable_reason() says why; every deny rule is then refused with that reason.
#pragma once

#include <atomic>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/field_filters.h"
#include "core/guest_batch.h"
#include "core/result.h"
#include "guest-probes/deny_compiler.h"
#include "guest-probes/event_stream.h"
#include "syscall-probes/proc_table.h"

namespace kata_sentry::guest_probes {

struct GuestSensorOptions {
  std::filesystem::path cgroup_parent = "/sys/fs/cgroup/kata-sentry";  // created if missing
  std::filesystem::path lsm_list = "/sys/kernel/security/lsm";
  bool load_lsm = true;
  bool load_tracepoints = true;
  bool protect_agent = true;     // refuse ptrace of / signals to the agent from other tasks
  bool report_agent = false;     // also stream the agent's own LSM records (KS_F_AGENT)
  // Each of the two rings (LSM records, syscall records). Its pages are allocated and zeroed at
  // load, so they are guest RAM whether used or not, and mapped (twice, for wrap-around) into the
  // agent, which counts them in its RSS. One container's events drained by a consumer that
  // wakes at 256 KiB queued (SyscallProbesOptions::wakeup_bytes) need far less than the host's
  // 8 MiB; drops are counted (stats) if a burst outruns it.
  size_t ring_buffer_bytes = 1u << 20;
  // Threads of the pod inside a traced syscall at once (SyscallProbesOptions::pending_capacity):
  // 1024 preallocated records are 1.3 MiB of guest kernel memory, the host's 8192 would be 10.
  uint32_t pending_capacity = 1024;
  size_t process_capacity = 16384;  // processes the sensor's table describes (LRU beyond)
  EventStreamOptions stream;
};

struct EnforcementResult {
  uint32_t installed = 0;
  std::vector<std::string> refused;
};

// The sensor's process table as ListGuestProcesses reports it.
struct GuestProcessInfo {
  probes::ProcEntry process;
  std::string container_id;  // empty: not in one of the containers
  bool agent = false;        // the agent's own process
};
struct GuestProcessSnapshot {
  std::vector<GuestProcessInfo> processes;  // in pid order
  bool truncated = false;                   // more were running than asked for
};

class GuestSensor {
 public:
  // Fails only when nothing could be loaded at all; a missing LSM or a failing tracepoint
  // set is logged at warn and reported in stats(). Registers the calling process as the agent.
  static Result<std::unique_ptr<GuestSensor>> start(const GuestSensorOptions& options);
  ~GuestSensor();
  GuestSensor(const GuestSensor&) = delete;  // reader threads hold `this`
  GuestSensor& operator=(const GuestSensor&) = delete;

  // Container bookkeeping (from the agent's Sandbox): attribution and container rules.
  // present=false forgets the container.
  void container_changed(const std::string& id, const std::filesystem::path& cgroup_dir,
                         bool present);

  // Replaces the deny set; rules that cannot be enforced are refused with the reason.
  // Fails only when the kernel map could not be written (then the old set stays active).
  Result<EnforcementResult> set_enforcement(std::vector<DenyRule> rules);

  // Serves one stream: calls send() for each batch (and a heartbeat every
  // heartbeat_interval without events) until send() returns false, cancelled() is true or
  // the sensor stops. Fails with unavailable when another stream is active.
  Status stream(const std::function<bool(GuestEventBatch&&)>& send,
                const std::function<bool()>& cancelled, size_t max_batch_events,
                std::chrono::milliseconds max_batch_delay,
                std::chrono::milliseconds heartbeat_interval = std::chrono::milliseconds(250));

  // Signals a container process; refuses the agent itself and processes outside the
  // containers' cgroups. Uses a pidfd so a recycled pid is never hit.
  Status kill_container_process(uint32_t pid, int sig);

  // In-kernel filtering: bit N set = build records of event type N (the host's rules, or
  // all while someone traces raw events). Every type is built until this is called. Process
  // lifecycle records (the process table's) and LSM records of hooks the deny set covers are
  // built whatever it says. Fails only when a kernel map could not be written.
  using WantedTypes = std::bitset<kEventTypeSlots>;
  // `fields`: per type, the paths and comms some rule can use (core/field_filters.h): applied by
  // the tracepoint probes (SyscallProbes::set_field_filters) and by the LSM's file_open hook,
  // after its deny decision (a refused open is always sent); the other LSM records are filtered
  // by type only.
  Status set_wanted_types(const WantedTypes& wanted, const FieldFilters& fields = {});
  // A copy of the process table (at most `max` processes, lowest pids first) plus the agent,
  // each with its container (from its cgroup); processes that have exited are left out. The
  // table belongs to the reader thread, so that thread takes the copy between two drains;
  // fails (timeout) when it does not within `timeout`.
  Result<GuestProcessSnapshot> processes(size_t max, std::chrono::milliseconds timeout);

  GuestSensorStats stats() const;
  bool lsm_enforcing() const;

  // Detaches every probe (nothing is seen or denied; maps, rules and the stream stay) or
  // attaches them again. For measuring the probes' cost in one boot (guest_probes_bench);
  // the host asks for it explicitly with SetSensorAttached.
  Status set_attached(bool attached);

 private:
  struct Impl;
  explicit GuestSensor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "bpf" in the LSM list file, or the reason it is not usable.
Result<void> bpf_lsm_active(const std::filesystem::path& lsm_list);

}  // namespace kata_sentry::guest_probes
