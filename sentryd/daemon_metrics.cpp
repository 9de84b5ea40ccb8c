#include "sentryd/daemon_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <shared_mutex>
#include <sstream>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/logging.h"
#include "sentryd/event_hub.h"
#include "sentryd/sandbox_registry.h"

namespace kata_sentry::daemon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

uint64_t wall_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

ClientMetric sample(double value, std::vector<ClientMetric::Label> labels, MetricType type) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  return m;
}

// The counters of a sandbox's monitor that feed node-wide counters, added up.
struct Totals {
  uint64_t host_inbox_drops = 0;
  uint64_t guest_rate_limited = 0, guest_seq_missing = 0, guest_replayed = 0, guest_unknown_container = 0;
  uint64_t agent_rate_limited = 0, agent_queue_drops = 0, guest_ringbuf_drops = 0;
  std::array<uint64_t, kGuestDropReasons> batches_refused{};
  uint64_t tamper_alerts = 0;
  uint64_t guest_stream_errors = 0;
  void add(const monitor::MonitorStats& s) {
    host_inbox_drops += s.host_queue_drops;
    guest_rate_limited += s.guest.rate_limited;
    guest_seq_missing += s.guest.seq_missing;
    guest_replayed += s.guest.events_replayed;
    guest_unknown_container += s.guest.unknown_container;
    agent_rate_limited += s.guest_reported.rate_limited;
    agent_queue_drops += s.guest_reported.queue_drops;
    guest_ringbuf_drops += s.guest_reported.ringbuf_drops;
    for (size_t i = 0; i < batches_refused.size(); ++i) batches_refused[i] += s.guest.batches_refused[i];
    tamper_alerts += s.tamper_alerts;
    guest_stream_errors += s.guest_stream_errors;
  }
};

// /proc/self: CPU seconds (user + system), resident bytes, open fds, start time.
struct ProcessSample {
  double cpu_seconds = 0, resident_bytes = 0, open_fds = 0, start_time_s = 0;
};

ProcessSample process_sample() {
  ProcessSample p;
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')'.
  auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    // f[0] is field 3 (state): utime=14, stime=15, starttime=22, rss=24 (1-based field numbers).
    const double tick = double(::sysconf(_SC_CLK_TCK));
    if (f.size() > 21) {
      p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
      p.resident_bytes = std::stod(f[21]) * double(::sysconf(_SC_PAGESIZE));
      double boot = 0;
      std::ifstream st("/proc/stat");
      for (std::string key; st >> key;) {
        if (key == "btime") {
          st >> boot;
          break;
        }
      }
      p.start_time_s = boot + std::stod(f[19]) / tick;
    }
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') p.open_fds += 1;
    ::closedir(d);
    p.open_fds -= 1;  // the directory itself
  }
  return p;
}

}  // namespace

// Reads the registry, the hub and the host probes at each scrape.
class DaemonMetrics::Collector : public prometheus::Collectable {
 public:
  explicit Collector(MetricsOptions options) : options_(std::move(options)) {}

  // Waits for a scrape that is reading the old sources: after set_sources({}) none of them is
  // called again, so kata-sentryd can destroy the registry while the server still answers.
  void set_sources(MetricsSources s) {
    std::unique_lock lock(sources_mu_);
    sources_ = std::move(s);
  }
  void retire(const monitor::MonitorStats& s) {
    std::lock_guard lock(mu_);
    retired_.add(s);
  }

  std::vector<MetricFamily> Collect() const override {
    std::deque<MetricFamily> out;  // a deque: families are filled through references while more are added
    try {
      collect(out);
    } catch (const std::exception& e) {
      // A scrape must not take the daemon down; the next one tries again.
      logger("sentryd")->error("metrics: a scrape failed: {}", e.what());
      return {};
    }
    return {std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())};
  }

 private:
  void collect(std::deque<MetricFamily>& out) const {
    std::shared_lock sources_lock(sources_mu_);  // held while the sources are read (set_sources)
    const MetricsSources& src = sources_;
    Totals totals;
    {
      std::lock_guard lock(mu_);
      totals = retired_;
    }
    auto family = [&](std::string name, std::string help, MetricType type) -> MetricFamily& {
      out.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
      return out.back();
    };
    family("kata_sentry_info", "kata-sentryd's build and mode (always 1)", MetricType::Gauge)
        .metric.push_back(sample(1, {{"version", KS_VERSION}, {"mode", options_.mode}}, MetricType::Gauge));

    std::vector<SandboxState> sandboxes = src.sandboxes ? src.sandboxes() : std::vector<SandboxState>{};
    for (const auto& s : sandboxes) totals.add(s.stats);

    // Sandboxes by state.
    std::map<std::string, int> states{{"starting", 0}, {"monitoring", 0}, {"detached", 0}};
    for (const auto& s : sandboxes)
      ++states[!s.guest_attached ? "detached" : s.stats.heartbeat_age_ms < 0 ? "starting" : "monitoring"];
    auto& by_state = family("kata_sentry_sandboxes", "sandboxes registered, by state (starting: no guest heartbeat yet)", MetricType::Gauge);
    for (const auto& [state, n] : states) by_state.metric.push_back(sample(n, {{"state", state}}, MetricType::Gauge));

    // Drops, node-wide, by side, stage and reason.
    auto& drops = family("kata_sentry_drops_total", "events lost before evaluation or delivery, by side, stage and reason", MetricType::Counter);
    auto drop = [&](const char* side, const char* stage, const char* reason, uint64_t n) {
      drops.metric.push_back(sample(double(n), {{"side", side}, {"stage", stage}, {"reason", reason}}, MetricType::Counter));
    };
    drop("host", "monitor_inbox", "queue_full", totals.host_inbox_drops);
    if (auto probes = src.host_probes ? src.host_probes() : std::nullopt) {
      drop("host", "ring_buffer", "full", probes->ringbuf_drops);
      drop("host", "pairing", "table_full", probes->pending_drops);
      drop("host", "decode", "malformed", probes->decode_errors);
    }
    drop("host", "subscriber", "queue_full", src.hub ? src.hub->dropped_total() : 0);
    drop("guest", "ring_buffer", "full", totals.guest_ringbuf_drops);
    drop("guest", "agent", "rate_limit", totals.agent_rate_limited);
    drop("guest", "agent", "queue_full", totals.agent_queue_drops);
    drop("guest", "guard", "rate_limit", totals.guest_rate_limited);
    drop("guest", "guard", "seq_gap", totals.guest_seq_missing);
    drop("guest", "guard", "replayed", totals.guest_replayed);
    auto& refused = family("kata_sentry_guest_batches_refused_total", "guest event batches the host refused whole, by reason", MetricType::Counter);
    for (size_t i = 0; i < totals.batches_refused.size(); ++i)
      refused.metric.push_back(sample(double(totals.batches_refused[i]),
                                      {{"reason", std::string(guest_drop_reason_name(static_cast<GuestDropReason>(i)))}},
                                      MetricType::Counter));
    family("kata_sentry_guest_unknown_container_events_total", "guest events naming a container the shim never registered", MetricType::Counter)
        .metric.push_back(sample(double(totals.guest_unknown_container), {}, MetricType::Counter));
    family("kata_sentry_tamper_alerts_total", "alerts about the guest sensor itself (silence, refused input)", MetricType::Counter)
        .metric.push_back(sample(double(totals.tamper_alerts), {}, MetricType::Counter));

    // Per sandbox, bounded: the oldest registrations keep their series.
    std::sort(sandboxes.begin(), sandboxes.end(), [](const auto& a, const auto& b) { return a.registered_at_ns < b.registered_at_ns; });
    size_t labelled = std::min(sandboxes.size(), options_.max_sandbox_series);
    auto& hb = family("kata_sentry_guest_heartbeat_age_seconds", "time since the guest sensor's last heartbeat, per sandbox", MetricType::Gauge);
    auto& relay = family("kata_sentry_relay_queue_batches", "guest batches waiting in the relay for the sandbox's monitor", MetricType::Gauge);
    auto& sb_events = family("kata_sentry_sandbox_events_total", "events evaluated, per sandbox and view", MetricType::Counter);
    auto& sb_alerts = family("kata_sentry_sandbox_alerts_total", "alerts raised, per sandbox", MetricType::Counter);
    auto& sb_drops = family("kata_sentry_sandbox_drops_total", "events lost, per sandbox and side", MetricType::Counter);
    for (size_t i = 0; i < labelled; ++i) {
      const auto& s = sandboxes[i];
      const std::string& id = s.record.sandbox_id;
      if (s.stats.heartbeat_age_ms >= 0)
        hb.metric.push_back(sample(double(s.stats.heartbeat_age_ms) / 1000.0, {{"sandbox", id}}, MetricType::Gauge));
      relay.metric.push_back(sample(double(s.relay_queued), {{"sandbox", id}}, MetricType::Gauge));
      sb_events.metric.push_back(sample(double(s.stats.guest.events), {{"sandbox", id}, {"view", "guest"}}, MetricType::Counter));
      sb_events.metric.push_back(sample(double(s.stats.host_records), {{"sandbox", id}, {"view", "host"}}, MetricType::Counter));
      sb_alerts.metric.push_back(sample(double(s.stats.alerts), {{"sandbox", id}}, MetricType::Counter));
      Totals one;
      one.add(s.stats);
      uint64_t guest = one.guest_rate_limited + one.guest_seq_missing + one.guest_replayed + one.agent_rate_limited +
                       one.agent_queue_drops + one.guest_ringbuf_drops;
      sb_drops.metric.push_back(sample(double(one.host_inbox_drops), {{"sandbox", id}, {"side", "host"}}, MetricType::Counter));
      sb_drops.metric.push_back(sample(double(guest), {{"sandbox", id}, {"side", "guest"}}, MetricType::Counter));
    }
    family("kata_sentry_sandboxes_unlabelled", "sandboxes beyond metrics_max_sandboxes: in node-wide series only", MetricType::Gauge)
        .metric.push_back(sample(double(sandboxes.size() - labelled), {}, MetricType::Gauge));

    if (src.sinks) collect_sinks(src.sinks(), family);
    if (src.audit_log) collect_audit_log(src.audit_log(), family);

    // Stream subscribers (kata-trace).
    std::map<std::string, int> subs{{"events", 0}, {"alerts", 0}};
    if (src.hub)
      for (const auto& s : src.hub->subscribers()) ++subs[s.kind];
    auto& sub_family = family("kata_sentry_stream_subscribers", "StreamEvents/StreamAlerts streams open (kata-trace)", MetricType::Gauge);
    for (const auto& [kind, n] : subs) sub_family.metric.push_back(sample(n, {{"kind", kind}}, MetricType::Gauge));

    ProcessSample p = process_sample();
    family("kata_sentry_process_cpu_seconds_total", "CPU time kata-sentryd used (user + system)", MetricType::Counter)
        .metric.push_back(sample(p.cpu_seconds, {}, MetricType::Counter));
    family("kata_sentry_process_resident_memory_bytes", "kata-sentryd's resident memory", MetricType::Gauge)
        .metric.push_back(sample(p.resident_bytes, {}, MetricType::Gauge));
    family("kata_sentry_process_open_fds", "kata-sentryd's open file descriptors", MetricType::Gauge)
        .metric.push_back(sample(p.open_fds, {}, MetricType::Gauge));
    family("kata_sentry_process_start_time_seconds", "when kata-sentryd started (Unix time)", MetricType::Gauge)
        .metric.push_back(sample(p.start_time_s, {}, MetricType::Gauge));
  }

  using FamilyAdder = std::function<MetricFamily&(std::string, std::string, MetricType)>;

  // Per sink (the configured exporters: a bounded set, named by the config).
  static void collect_sinks(const std::vector<exporters::SinkStats>& sinks, const FamilyAdder& family) {
    auto& delivered = family("kata_sentry_exporter_delivered_total", "records the sink's destination acknowledged (a retry's duplicates included)", MetricType::Counter);
    auto& failed = family("kata_sentry_exporter_failed_deliveries_total", "deliveries that failed (each followed by a backoff and a retry)", MetricType::Counter);
    auto& skipped = family("kata_sentry_exporter_skipped_total", "records the sink did not deliver, by reason (filtered: its filter; malformed: unreadable; retention: deleted before it read them)", MetricType::Counter);
    auto& lag = family("kata_sentry_exporter_lag_records", "records durable in the audit log that the sink has not yet acknowledged", MetricType::Gauge);
    auto& healthy = family("kata_sentry_exporter_healthy", "1 when the sink's last delivery succeeded", MetricType::Gauge);
    for (const auto& s : sinks) {
      delivered.metric.push_back(sample(double(s.delivered), {{"sink", s.name}}, MetricType::Counter));
      failed.metric.push_back(sample(double(s.failures), {{"sink", s.name}}, MetricType::Counter));
      skipped.metric.push_back(sample(double(s.filtered), {{"sink", s.name}, {"reason", "filtered"}}, MetricType::Counter));
      skipped.metric.push_back(sample(double(s.malformed), {{"sink", s.name}, {"reason", "malformed"}}, MetricType::Counter));
      skipped.metric.push_back(sample(double(s.skipped_retention), {{"sink", s.name}, {"reason", "retention"}}, MetricType::Counter));
      lag.metric.push_back(sample(double(s.lag), {{"sink", s.name}}, MetricType::Gauge));
      healthy.metric.push_back(sample(s.healthy ? 1 : 0, {{"sink", s.name}}, MetricType::Gauge));
    }
  }

  // The audit log the sinks follow.
  static void collect_audit_log(const exporters::AuditLogStats& a, const FamilyAdder& family) {
    auto counter = [&](std::string name, std::string help, uint64_t v) {
      family(std::move(name), std::move(help), MetricType::Counter).metric.push_back(sample(double(v), {}, MetricType::Counter));
    };
    auto gauge = [&](std::string name, std::string help, double v) {
      family(std::move(name), std::move(help), MetricType::Gauge).metric.push_back(sample(v, {}, MetricType::Gauge));
    };
    counter("kata_sentry_audit_log_records_total", "records appended to the audit log (signed checkpoints included)", a.appended);
    counter("kata_sentry_audit_log_written_bytes_total", "bytes written to the audit log's segments", a.bytes_written);
    counter("kata_sentry_audit_log_syncs_total", "fdatasync calls on the audit log's segments", a.syncs);
    counter("kata_sentry_audit_log_checkpoints_total", "signed checkpoints this process wrote", a.checkpoints);
    counter("kata_sentry_audit_log_refused_records_total", "appends refused (the log failed, or its disk is full under stop_sandboxes)", a.refused);
    counter("kata_sentry_audit_log_disk_full_total", "times the disk-full policy engaged", a.disk_full_events);
    counter("kata_sentry_audit_log_torn_bytes_recovered_total", "bytes of a torn last record moved aside when the log was opened", a.torn_bytes_recovered);
    auto& deleted = family("kata_sentry_audit_log_deleted_segments_total", "segments deleted, by reason (retention limits, or drop_oldest when the disk is full)", MetricType::Counter);
    deleted.metric.push_back(sample(double(a.retention_deleted_segments), {{"reason", "retention"}}, MetricType::Counter));
    deleted.metric.push_back(sample(double(a.disk_full_deleted_segments), {{"reason", "disk_full"}}, MetricType::Counter));
    gauge("kata_sentry_audit_log_segments", "segment files the audit log keeps now", double(a.segments));
    gauge("kata_sentry_audit_log_unsynced_records", "records accepted but not yet durable (fdatasync pending)", double(a.last_seq > a.durable_seq ? a.last_seq - a.durable_seq : 0));
    gauge("kata_sentry_audit_log_disk_full", "1 while the disk-full policy is engaged", a.disk_full ? 1 : 0);
    gauge("kata_sentry_audit_log_failed", "1 once a write or fdatasync failed: the log accepts nothing more", a.failed ? 1 : 0);
  }

  const MetricsOptions options_;
  mutable std::shared_mutex sources_mu_;
  MetricsSources sources_;  // under sources_mu_
  mutable std::mutex mu_;
  Totals retired_;  // under mu_
};

Result<std::unique_ptr<DaemonMetrics>> DaemonMetrics::start(const MetricsOptions& options) {
  std::unique_ptr<DaemonMetrics> m(new DaemonMetrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  auto& events = prometheus::BuildCounter()
                     .Name("kata_sentry_events_total")
                     .Help("events evaluated by the policy engine, by view (host|guest) and evt.type")
                     .Register(*m->registry_);
  // One series per view and type, made now: counting an event is one atomic add.
  for (View v : {View::host, View::guest})
    for (EventType t : all_event_types())
      if (size_t(t) < kTypes)
        m->events_[size_t(v)][size_t(t)] = &events.Add({{"view", std::string(view_name(v))}, {"type", std::string(event_type_name(t))}});
  m->rule_matches_ = &prometheus::BuildCounter()
                          .Name("kata_sentry_rule_matches_total")
                          .Help("alerts raised, by rule and priority")
                          .Register(*m->registry_);
  m->actions_ = &prometheus::BuildCounter()
                     .Name("kata_sentry_actions_total")
                     .Help("enforcement and response actions taken, by action and result (ok|failed)")
                     .Register(*m->registry_);
  m->latency_family_ = &prometheus::BuildHistogram()
                            .Name("kata_sentry_detection_latency_seconds")
                            .Help("from the syscall (the event's own clock; the guest's for guest events) to its alert")
                            .Register(*m->registry_);
  const prometheus::Histogram::BucketBoundaries buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  for (View v : {View::host, View::guest})
    m->latency_[size_t(v)] = &m->latency_family_->Add({{"view", std::string(view_name(v))}}, buckets);
  // Boots take about a second with KVM and tens of seconds under TCG (no KVM on this kind of
  // machine); sandbox boot_timeout defaults to 60 s.
  m->boot_time_ = &prometheus::BuildHistogram()
                       .Name("kata_sentry_sandbox_boot_seconds")
                       .Help("a sandbox's boot, from the start of its creation (before the VMM starts) to its agent answering")
                       .Register(*m->registry_)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120});
  m->collector_ = std::make_shared<Collector>(options);
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(options.address, 2);
  } catch (const std::exception& e) {
    return fail(ErrorCode::unavailable, "metrics: cannot serve on '" + options.address + "': " + e.what());
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->collector_);
  auto ports = m->exposer_->GetListeningPorts();
  std::string host = options.address.substr(0, options.address.rfind(':'));
  m->address_ = host + ":" + (ports.empty() ? "?" : std::to_string(ports.front()));
  return m;
}

DaemonMetrics::~DaemonMetrics() = default;

void DaemonMetrics::set_sources(MetricsSources sources) { collector_->set_sources(std::move(sources)); }

void DaemonMetrics::on_event(const Event& e) noexcept {
  size_t t = size_t(e.type);
  if (t < kTypes && size_t(e.view) < 2)
    if (auto* c = events_[size_t(e.view)][t]) c->Increment();
}

prometheus::Counter& DaemonMetrics::rule_series(const std::string& rule, policy::Priority priority) {
  std::pair key{rule, std::string(policy::priority_name(priority))};
  auto it = rule_series_.find(key);
  if (it == rule_series_.end()) it = rule_series_.emplace(key, &rule_matches_->Add({{"rule", key.first}, {"priority", key.second}})).first;
  return *it->second;
}

void DaemonMetrics::declare_rules(const policy::RuleSet& rules) {
  std::lock_guard lock(mu_);
  for (const auto& r : rules.rules)
    if (r.enabled) rule_series(r.name, r.priority);
  for (const auto& s : rules.sequences)
    if (s.enabled) rule_series(s.name, s.priority);
}

void DaemonMetrics::on_alert(const policy::Alert& a) noexcept {
  try {
    {
      std::lock_guard lock(mu_);
      rule_series(a.rule, a.priority).Increment();
    }
    uint64_t now = wall_ns();
    double latency = a.time_ns && now > a.time_ns ? double(now - a.time_ns) / 1e9 : 0.0;
    if (size_t(a.view) < 2) latency_[size_t(a.view)]->Observe(latency);
  } catch (...) {
    // Allocation failed: the alert itself was already written; only its count is lost.
  }
}

void DaemonMetrics::on_audit(const monitor::AuditRecord& r) noexcept {
  if (r.action == policy::Action::alert && r.ok) return;  // not an action
  try {
    std::lock_guard lock(mu_);
    std::pair key{std::string(policy::action_name(r.action)), std::string(r.ok ? "ok" : "failed")};
    auto it = action_series_.find(key);
    if (it == action_series_.end()) it = action_series_.emplace(key, &actions_->Add({{"action", key.first}, {"result", key.second}})).first;
    it->second->Increment();
  } catch (...) {
  }
}

void DaemonMetrics::observe(monitor::MonitorOptions& o) {
  o.on_event = [this, next = std::move(o.on_event)](const Event& e) {
    on_event(e);
    if (next) next(e);
  };
  o.on_alert = [this, next = std::move(o.on_alert)](const policy::Alert& a) {
    on_alert(a);
    if (next) next(a);
  };
  o.on_audit = [this, next = std::move(o.on_audit)](const monitor::AuditRecord& r) {
    on_audit(r);
    if (next) next(r);
  };
}

void DaemonMetrics::on_sandbox_boot(std::chrono::nanoseconds boot_time) noexcept {
  try {
    boot_time_->Observe(std::chrono::duration<double>(boot_time).count());
  } catch (...) {
  }
}

void DaemonMetrics::retire(const monitor::MonitorStats& final_stats) { collector_->retire(final_stats); }

}  // namespace kata_sentry::daemon
