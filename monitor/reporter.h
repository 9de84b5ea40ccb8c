// Where one sandbox monitor's findings go: the alert writer (a JSON-lines file or the
// terminal) and the callbacks of whoever embeds the monitor (kata-sentryd's streams, tests).
// Thread-safe and never throws: the guest-stream guard, the evaluator's worker and the host
// deny refusal reader all report through it. A callback that throws is counted (errors());
// a write that fails is counted by the writer, which may be shared by several sandboxes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/event.h"
#include "monitor/alert_writer.h"
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
};

class Reporter {
 public:
  // `writer` may be null (callbacks only); it must outlive the reporter.
  Reporter(std::string sandbox_id, std::string sandbox_name, AlertWriter* writer, ReporterCallbacks callbacks,
           PodLabels pod = {});

  // Fills in the sandbox when the alert has none, and the pod's k8s.pod.name / k8s.ns.name
  // (host-set, so a rule's output need not name them), then writes it.
  void alert(policy::Alert& alert) noexcept;
  // Stamps an event with the sandbox and pod as the host knows them (never the guest's word).
  void stamp(Event& e) const;
  void audit(AuditRecord record) noexcept;
  // A record of this sandbox, stamped now, for `view` and `action`.
  AuditRecord record(View view, policy::Action action) const;

  const std::string& sandbox_id() const { return sandbox_id_; }
  const std::string& sandbox_name() const { return sandbox_name_; }
  uint64_t alerts() const { return alerts_.load(); }
  uint64_t errors() const;  // callbacks that threw

 private:
  const std::string sandbox_id_;
  const std::string sandbox_name_;
  const PodLabels pod_;
  AlertWriter* const writer_;
  const ReporterCallbacks callbacks_;
  std::atomic<uint64_t> alerts_{0};
  std::atomic<uint64_t> callback_errors_{0};
};

uint64_t wall_now_ns();

}  // namespace kata_sentry::monitor
