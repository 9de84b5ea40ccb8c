// What one sandbox's monitor does about its alerts, and the record of it.
//
// In enforce mode it installs the deny sets at start: the guest's into the guest BPF LSM
// (through the agent) and the host's into cgroup programs on the sandbox's host cgroup.
// Then, per operation, it carries out each alert's action (deny: decided in the kernel;
// kill; kill_sandbox), writes one audit record per action, and decides what the alert may
// claim:
//
//   * `enforced` only when the host can corroborate it: the host carried the action out
//     itself, or a deny rule the host installed on that side covers the operation and the
//     kernel's record (or the syscall's EPERM) says refused;
//   * a guest record that says "refused" with no deny rule of the host's behind it is
//     reported as `guest_reports_denied`, never as enforced: the guest can claim anything.
//
// Whatever cannot be done is audited as not done: an unavailable hook never turns into a
// claimed block. act() runs on the monitor's worker thread; the host deny refusal reader
// runs on its own thread; stats() is safe from any thread.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/deny_rule.h"
#include "core/event.h"
#include "core/field_filters.h"
#include "core/result.h"
#include "monitor/guest_stream_guard.h"
#include "monitor/operation_joiner.h"
#include "monitor/reporter.h"
#include "policy-engine/enforcement_spec.h"
#include "policy-engine/engine.h"
#include "policy-engine/rule.h"

namespace kata_sentry::probes {
class HostDeny;
}

namespace kata_sentry::monitor {

// How the monitor reaches the sandbox. Plain functions so that tests can fake a guest;
// cli/run_monitor.cpp wires the real agent and VM, sentryd/relay_link.cpp the shim's relay.
// Every hook may be called from the monitor's threads; an empty hook means "not available"
// (the action is audited as failed).
struct SandboxHooks {
  // Delivers the guest's event batches as wire bytes (decoded by the guard, never before)
  // until the stream ends or the callback returns false (then success). Errors say why the
  // stream ended.
  std::function<Status(const std::function<bool(std::string&&)>&)> stream_events;
  std::function<Result<std::vector<std::string>>(const std::vector<DenyRule>&)> set_enforcement;
  // In-guest filtering: the event types the guest probes build, and the path and comm conditions
  // of those types (the agent's SetWantedTypes).
  std::function<Status(const std::bitset<kEventTypeSlots>&, const FieldFilters&)> set_wanted_types;
  std::function<Status(uint32_t guest_pid, int sig)> kill_guest_process;
  std::function<Status()> stop_vm;             // kill_sandbox: QMP quit
  std::function<bool()> vm_running;            // heartbeats are only expected while true
  std::function<void()> abort_guest_stream;    // unblocks a hung stream_events (kills QEMU)
};

struct ExecutorStats {
  uint64_t actions_ok = 0;
  uint64_t actions_failed = 0;
  uint64_t guest_claims_uncorroborated = 0;  // operations the guest said it refused, without a host deny rule behind it
  // The deny set pushed to the guest at start (enforce mode).
  std::vector<std::string> deny_installed;
  std::vector<std::string> deny_refused;  // "<rule>: <reason>"
  // The host deny set (cgroup programs on the sandbox's host cgroups) installed at start.
  bool host_deny_attached = false;
  std::vector<std::string> host_deny_installed;
  std::vector<std::string> host_deny_refused;  // "<rule>: <reason>"
  uint64_t host_refusals = 0;                  // operations the host cgroup programs refused
  uint64_t host_refusal_drops = 0;             // refusal records lost (ring buffer full)
  uint64_t host_refusal_unreadable = 0;        // refusal records that did not decode
};

class ActionExecutor {
 public:
  // `hooks`, `reporter` and `alarm` must outlive the executor.
  ActionExecutor(policy::Mode mode, const SandboxHooks& hooks, Reporter& reporter, TamperAlarm& alarm,
                 std::vector<std::string> host_cgroups);
  ~ActionExecutor();  // stop()
  ActionExecutor(const ActionExecutor&) = delete;
  ActionExecutor& operator=(const ActionExecutor&) = delete;

  // Enforce mode: installs both deny sets from the engine's enforceable rules and audits the
  // outcome of each; monitor mode installs nothing. Fails (fail-closed: the sandbox must not run
  // believed enforced) when the guest's agent could not be given its deny set; nothing is
  // installed on the host then. Rules the guest refuses one by one are audited, not fatal.
  Status install(const std::vector<policy::EnforcementSpec>& specs);
  // Acts on each alert of one operation (one audit record per action), then reports the
  // group as one alert.
  void act_and_report(AlertGroup& group) noexcept;
  // Stops the host deny refusal reader and detaches the host deny programs. Idempotent.
  void stop();

  bool sandbox_killed() const { return sandbox_killed_.load(); }
  ExecutorStats stats() const;

 private:
  Status install_guest(const std::vector<policy::EnforcementSpec>& specs);
  void install_host(const std::vector<policy::EnforcementSpec>& specs);
  // `hook`: the LSM record of the operation (named in the audit record of a refusal).
  void act(policy::Alert& alert, bool corroborated, bool claimed, EventType hook) noexcept;
  bool installed(const policy::Alert& alert) const;
  void refusal_loop() noexcept;
  void audit_refusal(const Event& event) noexcept;
  void count(bool ok);

  const policy::Mode mode_;
  const SandboxHooks& hooks_;
  Reporter& reporter_;
  TamperAlarm& alarm_;
  const std::vector<std::string> host_cgroups_;

  mutable std::mutex mu_;  // stats_
  ExecutorStats stats_;
  // Written by install() before any act(); read-only afterwards.
  std::vector<std::string> deny_rules_in_guest_;
  std::vector<std::string> deny_rules_on_host_;
  std::vector<std::string> host_deny_rule_names_;  // rule id in refusal records -> rule
  std::string host_deny_unavailable_;              // why host deny is off, when it is
  std::atomic<bool> sandbox_killed_{false};

  std::unique_ptr<probes::HostDeny> host_deny_;  // enforce mode, when it attached
  std::atomic<bool> stopping_{false};
  std::thread refusal_thread_;
};

}  // namespace kata_sentry::monitor
