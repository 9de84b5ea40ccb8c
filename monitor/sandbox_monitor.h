// The joined view of one sandbox: host-probe events of its VMM scope (fed by the node's
// HostProbeHub, monitor/host_probe_hub.h) and the guest sensor's event stream go through one
// policy engine; alerts and audit records go to a Reporter; in enforce mode the actions the
// engine decides are carried out.
//
// The parts, each in its own file:
//   * GuestStreamGuard (guest_stream_guard.h): what of the guest's stream may reach the engine;
//   * Evaluator (evaluator.h): the engine and the operation joiner;
//   * ActionExecutor (action_executor.h): deny sets, kill, kill_sandbox, and the audit record.
//
// Threads: one reads the guest stream through the guard; one worker evaluates everything in
// arrival order from a bounded inbox and carries out the actions, and watches the guest's
// heartbeats. Producers never share a lock with the engine: the host probe hub's feed_host()
// never waits (a full inbox drops and counts), the guest reader waits for room (back-pressure
// up to the guest's own bounded queue), so a slow action stalls only its own sandbox.
// Nothing on the event path throws.
#pragma once

#include <atomic>
#include <bitset>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"
#include "core/event.h"
#include "core/guest_batch.h"
#include "core/result.h"
#include "monitor/action_executor.h"
#include "exporters/audit_log.h"
#include "monitor/audit_record.h"
#include "monitor/evaluator.h"
#include "monitor/guest_stream_guard.h"
#include "monitor/operation_joiner.h"
#include "monitor/reporter.h"
#include "policy-engine/engine.h"

namespace kata_sentry::monitor {

struct MonitorOptions {
  std::string sandbox_id;
  std::string sandbox_name;
  PodLabels pod;                          // a CRI pod's k8s.pod.name / k8s.ns.name / k8s.pod.uid; empty otherwise
  uint32_t vmm_pid = 0;                   // QEMU; host events of its scope carry it as vmm.pid
  std::vector<uint32_t> helper_tgids;     // in the sandbox's scope but not the VMM (virtiofsd): vmm.pid stays unset
  // cgroup v2 directories of the sandbox; in enforce mode the host deny set's cgroup programs
  // are attached to them (none: host deny is unavailable, and audited so).
  std::vector<std::string> host_cgroups;
  // The containers the host started in this sandbox; guest events naming another container
  // are tagged container.id=unknown (and alarmed). More come with set_known_containers().
  std::vector<std::string> container_ids;
  // What the host knows of each container from the runtime spec it sent (privileged, image,
  // mounts): the container.* fields of its guest events. More with set_container_info().
  std::map<std::string, policy::Enrichment> container_info;
  bool guest_stream = true;
  GuardOptions guard;                     // guest input limits: rate, burst, batch sizes
  std::chrono::milliseconds heartbeat_timeout{3000};
  // Before the first heartbeat the guest is still loading its sensor (BPF verification under
  // TCG on a busy host takes seconds) and runs no workload: the agent starts no container
  // before its sensor is up. So the silence clock starts at the first heartbeat; a sensor that
  // never sends one is alarmed after this.
  std::chrono::milliseconds sensor_start_timeout{60000};
  std::chrono::milliseconds tamper_alert_interval{10000};  // at most one tamper alert per interval
  // Joins the syscall and LSM records of one guest operation into one alert (operation_joiner.h).
  JoinOptions join;
  size_t inbox_events = 16384;            // events waiting for the worker; beyond, host events are dropped (counted)
  size_t inbox_bytes = 32u << 20;
  // Called for every alert and audit record after the audit log (kata-sentryd's streams, tests),
  // on the monitor's threads: keep them short; what they throw is counted.
  std::function<void(const policy::Alert&)> on_alert;
  std::function<void(const AuditRecord&)> on_audit;
  // Called for every event before it is evaluated, tagged (kata-sentryd's StreamEvents).
  std::function<void(const Event&)> on_event;
  // Every event is consumed whatever the rules (each is written to the audit log): the probes
  // then build every type. Otherwise only the types the rules can match (in-kernel filtering).
  bool want_all_types = false;
};

struct MonitorStats {
  uint64_t host_records = 0;          // host-view events evaluated
  uint64_t host_queue_drops = 0;      // host events dropped: the inbox was full
  GuardStats guest;                   // the guest stream guard's counters (accepted, refused by reason, ...)
  uint64_t guest_stream_errors = 0;   // the stream ended while the VM ran
  uint64_t tamper_alerts = 0;
  uint64_t tamper_alerts_suppressed = 0;
  uint64_t alerts = 0;
  uint64_t report_errors = 0;         // alert, audit and event callbacks that threw
  uint64_t log_errors = 0;            // alerts and audit records the audit log refused (failed, closed, disk full)
  uint64_t internal_errors = 0;       // evaluations that failed (allocation): their alerts reported unjoined or lost
  ExecutorStats actions;
  GuestSensorStats guest_reported;    // as the guest last reported them (untrusted, informative)
  int64_t heartbeat_age_ms = -1;      // since the worker last evaluated a guest heartbeat; -1: none yet
};

// "3 alert(s); host 120 event(s), 0 dropped; guest 80 event(s) in 12 batch(es), ..." for a
// closing log line.
std::string describe(const MonitorStats& stats);

class SandboxMonitor {
 public:
  // Installs the deny sets in enforce mode (a refusal is audited, not fatal) and starts the
  // threads. `log` (the node's audit log) may be null (callbacks only); it must outlive the monitor.
  static Result<std::unique_ptr<SandboxMonitor>> start(std::unique_ptr<policy::Engine> engine, MonitorOptions options,
                                                       SandboxHooks hooks, exporters::AuditLog* log);
  ~SandboxMonitor();  // stop()
  SandboxMonitor(const SandboxMonitor&) = delete;
  SandboxMonitor& operator=(const SandboxMonitor&) = delete;

  // A host-probe event of this sandbox's scope, decoded and enriched by the caller. Never
  // waits: when the inbox is full the event is dropped and counted (host_queue_drops).
  void feed_host(Event event) noexcept;
  // Containers started in the sandbox since start (thread-safe).
  void set_known_containers(const std::vector<std::string>& ids);
  // A container's container.* facts (see MonitorOptions::container_info); thread-safe.
  void set_container_info(const std::string& id, policy::Enrichment info);

  // Waits until the guest has delivered, and the worker evaluated, everything the guest saw
  // before this call: two heartbeats that started after it (the agent's queue is FIFO), or
  // `timeout`. Returns false on timeout.
  bool flush(std::chrono::milliseconds timeout);

  // Stops the threads; a guest stream that does not end within ~2.5 s is aborted through
  // hooks.abort_guest_stream. What is in the inbox is evaluated first. Idempotent. Call before
  // the sandbox is destroyed.
  void stop();

  MonitorStats stats() const;
  policy::Mode mode() const { return mode_; }

  // In-kernel filtering. The event types the host probes must build for this sandbox (what its
  // rules can match in the host view, or all; see MonitorOptions::want_all_types and set_want_all()).
  std::bitset<kEventTypeSlots> host_wanted_types() const;
  // The path and comm conditions of those types (policy::field_filters_needed; none while all
  // types are wanted).
  FieldFilters host_field_filters() const;
  // Widens the guest's set to every type while on (a kata-trace subscriber follows raw events)
  // and back to the rules' set. Returns at once: the worker pushes the latest wish to the guest
  // within a tick, so a guest that never answers holds up only its own sandbox, never the
  // caller (kata-sentryd's registry). A failed push is logged; the guest keeps its previous set.
  void set_want_all(bool want_all);

  // Feeds an event as if it came from `view`'s source, past the guard (tests, replay): tagged
  // like the real paths.
  void inject(Event event);

 private:
  struct Item {
    enum class Kind : uint8_t { event, heartbeat } kind = Kind::event;
    Event event;
    bool lsm_active = false;  // guest events: the guest reports BPF LSM active
  };
  SandboxMonitor(std::unique_ptr<policy::Engine> engine, MonitorOptions options, SandboxHooks hooks, exporters::AuditLog* log);
  void guest_loop() noexcept;
  bool on_guest_batch(std::string&& wire) noexcept;
  void worker_loop() noexcept;
  void handle(Item& item) noexcept;
  void watch_heartbeats(std::chrono::steady_clock::time_point now) noexcept;
  void tag_host(Event& event) const;
  Status push_guest_wanted_types(bool want_all);
  void push_wanted_types_if_changed() noexcept;  // worker thread
  static size_t cost(const Event& event);

  const MonitorOptions options_;
  const SandboxHooks hooks_;
  const policy::Mode mode_;
  // policy::types_needed of the engine's rules, per view: each kernel builds only what its
  // view's rules can match.
  const std::bitset<kEventTypeSlots> host_rules_types_;
  const std::bitset<kEventTypeSlots> guest_rules_types_;
  // policy::field_filters_needed of the engine's rules, per view.
  const FieldFilters host_rules_fields_;
  const FieldFilters guest_rules_fields_;
  Reporter reporter_;
  TamperAlarm alarm_;
  GuestStreamGuard guard_;          // guest thread only (but stats and containers)
  Evaluator evaluator_;             // worker thread only
  ActionExecutor executor_;
  BoundedQueue<Item> inbox_;

  std::atomic<uint64_t> host_records_{0};
  std::atomic<uint64_t> host_queue_drops_{0};
  std::atomic<uint64_t> guest_stream_errors_{0};
  std::atomic<uint64_t> on_event_errors_{0};
  std::atomic<uint64_t> internal_errors_{0};
  std::atomic<bool> guest_lsm_active_{false};  // as the guest last reported it
  mutable std::mutex wanted_mu_;
  bool want_all_ = false;             // the wish (under wanted_mu_): host_wanted_types() follows it at once
  bool guest_want_all_ = false;       // what the guest was last told (start(), then the worker only)
  bool guest_push_failed_ = false;    // worker only: the last push failed ...
  bool guest_push_failed_for_ = false;  // ... for this wish, not retried until the wish changes
  mutable std::mutex reported_mu_;
  GuestSensorStats guest_reported_;
  mutable std::mutex containers_mu_;
  std::map<std::string, std::shared_ptr<const policy::Enrichment>> container_info_;

  // Heartbeats evaluated by the worker (flush and the silence watchdog).
  mutable std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  uint64_t heartbeats_ = 0;
  std::chrono::steady_clock::time_point last_heartbeat_;
  bool silence_reported_ = false;
  bool heard_from_sensor_ = false;  // a heartbeat came: the sensor is up
  std::atomic<bool> guest_done_{false};

  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread guest_thread_;
  std::thread worker_thread_;
  bool stopped_ = false;
};

}  // namespace kata_sentry::monitor
