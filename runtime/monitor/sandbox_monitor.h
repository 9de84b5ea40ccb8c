// The joined view of one sandbox: host-probe events of its VMM scope (QEMU, virtiofsd and
// their children, scoped in the kernel) and the guest sensor's event stream go through one
// policy engine; alerts go to an AlertWriter; in enforce mode the monitor carries out the
// actions the engine decided (deny specs pushed to the guest LSM and to cgroup programs on
// the sandbox's host cgroup, kill, kill_sandbox) and writes an audit record for each, and
// for each operation the host cgroup programs refused.
//
// The guest is untrusted: every guest event gets the sandbox id, name and view from the host's
// knowledge (whatever the guest sent is overwritten), guest events are rate-limited on the host
// (token bucket, drops counted), and a sequence gap, a broken stream or missing heartbeats
// raise one "Guest sensor silent or tampered" alert (itself rate-limited).
//
// Threads: one polls the host probes, one consumes the guest stream, one watches heartbeats;
// both event paths feed the engine under one mutex. Nothing on the event path throws.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "policy-engine/engine.h"
#include "runtime/agent_client/agent_client.h"
#include "runtime/monitor/alert_writer.h"
#include "runtime/monitor/operation_joiner.h"

namespace kata_sentry::probes {
class HostDeny;
class HostProbes;
class ProcTable;
}  // namespace kata_sentry::probes

namespace kata_sentry::runtime {
class Sandbox;
}

namespace kata_sentry::monitor {

inline constexpr std::string_view kTamperRule = "Guest sensor silent or tampered";

// How the monitor reaches the sandbox. Plain functions so that tests can fake a guest;
// hooks_for(Sandbox&) wires the real agent and VM. Every hook may be called from the monitor's
// threads; an empty hook means "not available" (the action is audited as failed).
struct SandboxHooks {
  std::function<Status(const std::function<bool(runtime::GuestEventBatch&&)>&)> stream_events;
  std::function<Result<std::vector<std::string>>(const std::vector<DenyRule>&)> set_enforcement;
  std::function<Status(uint32_t guest_pid, int sig)> kill_guest_process;
  std::function<Status()> stop_vm;             // kill_sandbox: QMP quit
  std::function<bool()> vm_running;            // heartbeats are only expected while true
  std::function<void()> abort_guest_stream;    // unblocks a hung stream_events (kills QEMU)
};

SandboxHooks hooks_for(runtime::Sandbox& sandbox);

struct MonitorOptions {
  std::string sandbox_id;
  std::string sandbox_name;
  uint32_t vmm_pid = 0;                   // QEMU; events of its scope carry it as vmm.pid
  std::vector<uint32_t> host_tgids;       // watched in the kernel with their children (QEMU, virtiofsd, ...)
  std::vector<uint32_t> helper_tgids;     // in scope but not the VMM (virtiofsd): vmm.pid stays unset
  // cgroup v2 directories of the sandbox, watched too; in enforce mode the host deny set's
  // cgroup programs are attached to them (none: host deny is unavailable, and audited so).
  std::vector<std::string> host_cgroups;
  bool host_probes = true;                // false: guest stream only (no BPF on the host)
  bool guest_stream = true;
  // Host-side limit on guest events, so a flooding guest cannot monopolise the engine.
  double guest_events_per_s = 20000;
  double guest_burst = 40000;
  std::chrono::milliseconds heartbeat_timeout{3000};
  std::chrono::milliseconds tamper_alert_interval{10000};  // at most one tamper alert per interval
  // Joins the syscall and LSM records of one guest operation into one alert (operation_joiner.h).
  JoinOptions join;
  // Called for every alert and audit record after the writer (tests, benchmarks). On the
  // monitor's threads, under its engine lock: keep it short.
  std::function<void(const policy::Alert&)> on_alert;
  std::function<void(const AuditRecord&)> on_audit;
  // Called for every event before it is evaluated, tagged (kata-sentryd's StreamEvents).
  // Same threads and lock as on_alert.
  std::function<void(const Event&)> on_event;
};

struct MonitorStats {
  uint64_t host_records = 0;
  uint64_t host_decode_errors = 0;
  uint64_t host_ringbuf_drops = 0;     // from the host probes' BPF counters
  uint64_t host_pending_drops = 0;
  uint64_t guest_batches = 0;
  uint64_t guest_heartbeats = 0;
  uint64_t guest_events = 0;           // accepted into the engine
  uint64_t guest_rate_limited = 0;     // dropped by the host-side token bucket
  uint64_t guest_seq_missing = 0;      // events missing according to first_seq
  uint64_t guest_stream_errors = 0;    // the stream ended while the VM ran
  uint64_t tamper_alerts = 0;
  uint64_t tamper_alerts_suppressed = 0;
  uint64_t alerts = 0;
  uint64_t actions_ok = 0;
  uint64_t actions_failed = 0;
  uint64_t alert_write_errors = 0;
  // As the guest last reported them (untrusted, informative).
  runtime::GuestSensorStats guest_reported;
  // The deny set pushed at start (enforce mode).
  std::vector<std::string> deny_installed;
  std::vector<std::string> deny_refused;  // "<rule>: <reason>"
  // The host deny set (cgroup programs on host_cgroups) installed at start (enforce mode).
  bool host_deny_attached = false;
  std::vector<std::string> host_deny_installed;
  std::vector<std::string> host_deny_refused;  // "<rule>: <reason>"
  uint64_t host_refusals = 0;                  // operations the host cgroup programs refused
  uint64_t host_refusal_drops = 0;             // refusal records lost (ring buffer full)
};

class SandboxMonitor {
 public:
  // Opens the host probes scoped to the sandbox (fails if that is impossible and
  // options.host_probes is set), pushes the guest deny set in enforce mode (a refusal is
  // audited, not fatal), and starts the threads. `writer` may be null (callbacks only);
  // it must outlive the monitor.
  static Result<std::unique_ptr<SandboxMonitor>> start(std::unique_ptr<policy::Engine> engine, MonitorOptions options,
                                                       SandboxHooks hooks, AlertWriter* writer);
  ~SandboxMonitor();  // stop()
  SandboxMonitor(const SandboxMonitor&) = delete;
  SandboxMonitor& operator=(const SandboxMonitor&) = delete;

  // Adds a process (and its future children) to the sandbox's host scope.
  Status watch_host_tgid(uint32_t tgid, bool is_vmm = true);

  // Waits until the guest has delivered everything it saw before this call: two heartbeats
  // that started after it (the agent's queue is FIFO), or `timeout`. Returns false on timeout.
  bool flush(std::chrono::milliseconds timeout);

  // Stops the threads; a guest stream that does not end within ~2.5 s is aborted through
  // hooks.abort_guest_stream. Idempotent. Call before the sandbox is destroyed.
  void stop();

  MonitorStats stats() const;
  policy::Mode mode() const;

  // Feeds an event as if it came from `view`'s source (tests, replay). Tags it like the real
  // paths do.
  void inject(Event event);

  // A host-probe event of this sandbox's scope from probes the caller owns (kata-sentryd runs
  // one probe set for all its sandboxes, options.host_probes = false): counted, tagged and
  // evaluated like the monitor's own. Decoded and enriched by the caller.
  void feed_host(Event event);

 private:
  SandboxMonitor(std::unique_ptr<policy::Engine> engine, MonitorOptions options, SandboxHooks hooks, AlertWriter* writer);
  void push_enforcement();
  void push_host_enforcement();
  void host_loop() noexcept;
  void host_deny_loop() noexcept;
  void audit_refusal(const Event& event) noexcept;
  void guest_loop() noexcept;
  void watchdog_loop() noexcept;
  bool on_batch(runtime::GuestEventBatch&& batch) noexcept;
  void tag_host(Event& event);
  void tag_guest(Event& event);
  // Engine + actions + output; takes mu_.
  void evaluate(const Event& event) noexcept;
  void emit_locked(policy::Alert& alert) noexcept;
  // Acts on each alert of one operation, then writes them as one alert.
  void emit_group_locked(AlertGroup& group) noexcept;
  void release_joined_locked(OperationJoiner::Clock::time_point now) noexcept;
  void write_locked(policy::Alert& alert) noexcept;
  void act_locked(policy::Alert& alert) noexcept;
  void audit_locked(AuditRecord record) noexcept;
  void tamper_locked(const std::string& reason) noexcept;
  bool take_guest_token() noexcept;

  MonitorOptions options_;
  SandboxHooks hooks_;
  AlertWriter* writer_;

  mutable std::mutex mu_;  // engine, stats, actions, tamper state
  std::unique_ptr<policy::Engine> engine_;
  std::vector<policy::Alert> scratch_;
  OperationJoiner joiner_;
  std::vector<AlertGroup> groups_;
  bool guest_lsm_active_ = false;  // as the guest last reported: LSM records are to be expected
  MonitorStats stats_;
  std::vector<std::string> deny_rules_in_guest_;
  std::vector<std::string> deny_rules_on_host_;
  std::vector<std::string> host_deny_rule_names_;  // rule id in refusal records -> rule
  std::string host_deny_unavailable_;              // why host deny is off, when it is
  bool sandbox_killed_ = false;
  uint64_t next_seq_ = 0;
  bool seq_known_ = false;
  std::chrono::steady_clock::time_point last_tamper_{};
  bool tamper_ever_ = false;

  // Token bucket for guest events (guest thread only).
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refill_at_{};

  // Heartbeat bookkeeping (guest + watchdog threads).
  std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  uint64_t heartbeats_ = 0;
  std::chrono::steady_clock::time_point last_heartbeat_{};
  bool silence_reported_ = false;
  bool guest_done_ = false;

  std::unique_ptr<probes::ProcTable> proc_table_;  // host thread only
  std::unique_ptr<probes::HostProbes> probes_;
  std::unique_ptr<probes::HostDeny> host_deny_;  // enforce mode only; read by its own thread
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread host_thread_;
  std::thread host_deny_thread_;
  std::thread guest_thread_;
  std::thread watchdog_thread_;
  bool stopped_ = false;
};

}  // namespace kata_sentry::monitor
