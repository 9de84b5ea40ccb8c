// kata-sentryd's Prometheus metrics (prometheus-cpp), served on the address sentryd.yaml gives
// (default loopback only). Names follow Prometheus's naming guide: one prefix (kata_sentry_),
// base units (seconds, bytes), `_total` for counters, `_info` for metadata. The full list is in
// sentryd/README.md.
//
// Two kinds of source: counters bumped on the detection path (events by view and type, rule
// matches, actions, detection latency), each a relaxed atomic add, never a lock per event;
// and the monitors' own counters, read at scrape time (drops by side, stage and reason; per-
// sandbox gauges). A sandbox that stops hands its final counts to retire(), so node-wide
// counters never go down; its per-sandbox series are gone at the next scrape. Per-sandbox
// series are capped (metrics_max_sandboxes): beyond the cap a sandbox counts only in the
// node-wide series, and kata_sentry_sandboxes_unlabelled says how many are left out.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "exporters/audit_log.h"
#include "exporters/sink.h"
#include "monitor/host_probe_hub.h"
#include "monitor/sandbox_monitor.h"
#include "policy-engine/alert.h"
#include "policy-engine/rule.h"

namespace prometheus {
class Counter;
class Exposer;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace kata_sentry::daemon {

struct SandboxState;
class EventHub;

struct MetricsOptions {
  std::string address = "127.0.0.1:9464";  // host:port (civetweb syntax); port 0: any free port
  size_t max_sandbox_series = 64;
  std::string mode;                        // "monitor" | "enforce", for kata_sentry_info
};

// What the scrape-time collector reads; set once the registry exists (it needs the metrics).
struct MetricsSources {
  std::function<std::vector<SandboxState>()> sandboxes;
  std::function<std::optional<monitor::HostProbeHubStats>()> host_probes;  // nullopt: none attached
  EventHub* hub = nullptr;
  // The audit log and its exporters (exporters::Pipeline), read at scrape time.
  std::function<std::vector<exporters::SinkStats>()> sinks;
  std::function<exporters::AuditLogStats()> audit_log;
};

class DaemonMetrics {
 public:
  // Binds the address and serves /metrics. Fails (unavailable) naming the address.
  static Result<std::unique_ptr<DaemonMetrics>> start(const MetricsOptions& options);
  ~DaemonMetrics();
  DaemonMetrics(const DaemonMetrics&) = delete;
  DaemonMetrics& operator=(const DaemonMetrics&) = delete;

  void set_sources(MetricsSources sources);
  // "127.0.0.1:9464" with the port actually bound.
  const std::string& address() const { return address_; }

  // The detection path (monitor threads): never throw, never block on a scrape.
  void on_event(const Event& event) noexcept;
  void on_alert(const policy::Alert& alert) noexcept;
  void on_audit(const monitor::AuditRecord& record) noexcept;
  // Makes a monitor's on_event/on_alert/on_audit count into these metrics before they do what
  // they did (kata-sentryd's registry and `kata-sentry run` both wire a monitor this way).
  // The metrics must outlive the monitor.
  void observe(monitor::MonitorOptions& options);
  // Series for these rules exist from now on, at 0 (a rate() over a series that appears only
  // with its first match misses that match).
  void declare_rules(const policy::RuleSet& rules);
  // A sandbox finished booting (its VM started to its agent answering), once per boot.
  void on_sandbox_boot(std::chrono::nanoseconds boot_time) noexcept;
  // A sandbox's monitor stopped: its final counts stay in the node-wide counters.
  void retire(const monitor::MonitorStats& final_stats);

 private:
  class Collector;
  DaemonMetrics() = default;

  static constexpr size_t kTypes = 64;
  std::string address_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::array<std::array<prometheus::Counter*, kTypes>, 2> events_{};  // [view][type]
  prometheus::Family<prometheus::Counter>* rule_matches_ = nullptr;
  prometheus::Family<prometheus::Counter>* actions_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_family_ = nullptr;
  std::array<prometheus::Histogram*, 2> latency_{};  // [view]
  prometheus::Histogram* boot_time_ = nullptr;
  std::mutex mu_;  // the on-demand series below (rules and actions are few and rare)
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> rule_series_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> action_series_;
  prometheus::Counter& rule_series(const std::string& rule, policy::Priority priority);  // under mu_
};

}  // namespace kata_sentry::daemon
