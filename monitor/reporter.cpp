#include "monitor/reporter.h"

#include <time.h>

#include "core/logging.h"

namespace kata_sentry::monitor {

uint64_t wall_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Reporter::Reporter(std::string sandbox_id, std::string sandbox_name, exporters::AuditLog* log, ReporterCallbacks callbacks,
                   PodLabels pod)
    : sandbox_id_(std::move(sandbox_id)),
      sandbox_name_(std::move(sandbox_name)),
      hostname_(exporters::local_hostname()),
      pod_(std::move(pod)),
      log_(log),
      callbacks_(std::move(callbacks)) {}

void Reporter::stamp(Event& e) const {
  e.sandbox_id = sandbox_id_;
  e.sandbox_name = sandbox_name_;
  e.pod_name = pod_.name;
  e.pod_namespace = pod_.ns;
  e.pod_uid = pod_.uid;
}

void Reporter::alert(policy::Alert& a) noexcept {
  try {
    if (a.sandbox.empty()) a.sandbox = sandbox_id_;
    if (!pod_.name.empty()) {
      a.output_fields["k8s.pod.name"] = pod_.name;
      a.output_fields["k8s.ns.name"] = pod_.ns;
      if (!pod_.uid.empty()) a.output_fields["k8s.pod.uid"] = pod_.uid;
    }
    if (log_ && !log_->append(exporters::RecordKind::alert, policy::alert_to_json_line(a))) ++log_errors_;
  } catch (...) {
    ++log_errors_;
  }
  ++alerts_;
  if (callbacks_.on_alert) {
    try {
      callbacks_.on_alert(a);
    } catch (...) {
      ++callback_errors_;
    }
  }
}

void Reporter::audit(AuditRecord record) noexcept {
  try {
    if (log_) {
      auto seq = log_->append(exporters::RecordKind::audit, audit_to_json_line(record, hostname_));
      // Durable before anyone hears of it.
      if (!seq || !log_->wait_durable(*seq)) ++log_errors_;
    }
  } catch (...) {
    ++log_errors_;
  }
  if (callbacks_.on_audit) {
    try {
      callbacks_.on_audit(record);
    } catch (...) {
      ++callback_errors_;
    }
  }
}

AuditRecord Reporter::record(View view, policy::Action action) const {
  AuditRecord r;
  r.time_ns = wall_now_ns();
  r.sandbox_id = sandbox_id_;
  r.sandbox_name = sandbox_name_;
  r.view = view;
  r.action = action;
  return r;
}

uint64_t Reporter::errors() const { return callback_errors_.load(); }
uint64_t Reporter::log_errors() const { return log_errors_.load(); }

}  // namespace kata_sentry::monitor
