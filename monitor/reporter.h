// Where one sandbox monitor's findings go: the node's audit log (exporters/audit_log.h), from
// which every sink exports them, and then the callbacks of whoever embeds the monitor
// (kata-sentryd's API streams, tests). An audit record is durable in the log before any
// callback sees it: an enforcement action is audited before it is reported through the API.
// Alerts are appended without waiting (group commit makes them durable within the log's
// interval), so detection never waits for the disk.
//
// Thread-safe and never throws: the guest-stream guard, the evaluator's worker and the host
// deny refusal reader all report through it. A callback that throws is counted (errors()); a
// record the log refused is counted (log_errors()).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/event.h"
#include "exporters/audit_log.h"
#include "monitor/audit_record.h"
#include "policy-engine/alert.h"

namespace kata_sentry::monitor {

struct ReporterCallbacks {
  std::function<void(const policy::Alert&)> on_alert;
  std::function<void(const AuditRecord&)> on_audit;
};

// A CRI pod's Kubernetes identity, as the shim read it from the CRI plugin's annotations.
struct PodLabels {
  std::string name;       // k8s.pod.name
  std::string ns;         // k8s.ns.name
  std::string uid;        // k8s.pod.uid
};

class Reporter {
 public:
  // `log` may be null (callbacks only); it must outlive the reporter.
  Reporter(std::string sandbox_id, std::string sandbox_name, exporters::AuditLog* log, ReporterCallbacks callbacks,
           PodLabels pod = {});

  // Fills in the sandbox when the alert has none, and the pod's k8s.pod.name / k8s.ns.name / k8s.pod.uid
  // (host-set, so a rule's output need not name them), then appends and reports it.
  void alert(policy::Alert& alert) noexcept;
  // Stamps an event with the sandbox and pod as the host knows them (never the guest's word).
  void stamp(Event& e) const;
  void audit(AuditRecord record) noexcept;
  // A record of this sandbox, stamped now, for `view` and `action`.
  AuditRecord record(View view, policy::Action action) const;

  const std::string& sandbox_id() const { return sandbox_id_; }
  const std::string& sandbox_name() const { return sandbox_name_; }
  uint64_t alerts() const { return alerts_.load(); }
  uint64_t errors() const;      // callbacks that threw
  uint64_t log_errors() const;  // records the audit log refused (failed, closed, disk full)

 private:
  const std::string sandbox_id_;
  const std::string sandbox_name_;
  const std::string hostname_;
  const PodLabels pod_;
  exporters::AuditLog* const log_;
  const ReporterCallbacks callbacks_;
  std::atomic<uint64_t> alerts_{0};
  std::atomic<uint64_t> callback_errors_{0};
  std::atomic<uint64_t> log_errors_{0};
};

uint64_t wall_now_ns();

}  // namespace kata_sentry::monitor
