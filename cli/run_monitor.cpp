#include "cli/run_monitor.h"

#include <stdlib.h>

#include <filesystem>

#include "core/logging.h"
#include "monitor/rules_path.h"
#include "runtime/sandbox/sandbox.h"
#include "sentryd/daemon_metrics.h"
#include "sentryd/sandbox_registry.h"

namespace kata_sentry::cli {

using monitor::MonitorOptions;
using monitor::SandboxHooks;
using monitor::SandboxMonitor;

using namespace std::chrono_literals;

SandboxHooks hooks_for(runtime::Sandbox& sandbox) {
  SandboxHooks h;
  runtime::Sandbox* sb = &sandbox;
  h.stream_events = [sb](const std::function<bool(std::string&&)>& fn) { return sb->agent().stream_events(fn); };
  h.set_enforcement = [sb](const std::vector<DenyRule>& rules) { return sb->agent().set_enforcement(rules); };
  h.set_wanted_types = [sb](const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields) {
    return sb->agent().set_wanted_types(types, fields);
  };
  h.kill_guest_process = [sb](uint32_t pid, int sig) { return sb->agent().kill_guest_process(pid, sig); };
  h.stop_vm = [sb]() { return sb->vm().qmp().quit(); };
  h.vm_running = [sb]() { return sb->vm().qemu_running(); };
  h.abort_guest_stream = [sb]() { sb->vm().kill_qemu(); };
  return h;
}

Result<std::unique_ptr<RunMonitor>> RunMonitor::create(RunMonitorConfig config) {
  std::unique_ptr<RunMonitor> m(new RunMonitor());
  if (config.rule_paths.empty()) {
    auto dir = monitor::default_rules_dir();
    if (!dir) return std::unexpected(dir.error());
    config.rule_paths.push_back(*dir);
  }
  auto engine = monitor::load_engine(config.rule_paths, config.mode);
  if (!engine) return std::unexpected(engine.error());
  m->engine_ = std::move(*engine);
  exporters::PipelineConfig pc = config.pipeline;
  if (pc.audit.dir.empty()) {
    // One run's log, kept only while it runs: the exporters read from it like the daemon's.
    std::error_code ec;
    std::filesystem::create_directories("/run/kata-sentry", ec);
    std::string tmpl = "/run/kata-sentry/run-audit-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return fail_errno("create a private audit log directory under /run/kata-sentry");
    m->temp_log_dir_ = tmpl;
    pc.audit.dir = tmpl + "/log";
    pc.audit.key_file = tmpl + "/node.key";
    pc.audit.min_free_bytes = 0;
  }
  if (!config.alerts_path.empty()) {
    exporters::SinkConfig f;
    f.name = "alerts";
    f.type = "file";
    f.path = config.alerts_path;
    pc.sinks.insert(pc.sinks.begin(), f);
  }
  if (pc.sinks.empty()) {
    exporters::SinkConfig console;
    console.name = "console";
    console.type = "console";
    pc.sinks.push_back(console);
  }
  auto pipeline = exporters::Pipeline::start(pc);
  if (!pipeline) return std::unexpected(pipeline.error());
  m->pipeline_ = std::move(*pipeline);
  m->config_ = std::move(config);
  if (!m->config_.metrics_address.empty()) {
    daemon::MetricsOptions mo;
    mo.address = m->config_.metrics_address;
    mo.mode = m->config_.mode == policy::Mode::enforce ? "enforce" : "monitor";
    auto metrics = daemon::DaemonMetrics::start(mo);
    if (!metrics) return std::unexpected(metrics.error());
    m->metrics_ = std::move(*metrics);
    m->metrics_->declare_rules(m->engine_->rules());
    m->serve_metrics();
  }
  return m;
}

// The same sources kata-sentryd's metrics read, for the one sandbox of this run.
void RunMonitor::serve_metrics() {
  daemon::MetricsSources sources;
  sources.sandboxes = [this] {
    std::vector<daemon::SandboxState> out;
    std::lock_guard lock(scrape_mu_);
    if (!monitor_) return out;
    daemon::SandboxState s;
    s.record.sandbox_id = sandbox_id_;
    s.record.pod_name = config_.sandbox_name;
    s.registered_at_ns = attached_at_ns_;
    s.guest_attached = true;
    s.stats = monitor_->stats();
    out.push_back(std::move(s));
    return out;
  };
  sources.host_probes = [this]() -> std::optional<monitor::HostProbeHubStats> {
    std::lock_guard lock(scrape_mu_);
    if (!hub_) return std::nullopt;
    return hub_->stats();
  };
  sources.sinks = [p = pipeline_.get()] { return p->sink_stats(); };
  sources.audit_log = [p = pipeline_.get()] { return p->log().stats(); };
  metrics_->set_sources(std::move(sources));
}

RunMonitor::~RunMonitor() {
  detach(false);  // the monitor's callbacks count into metrics_: stopped first
  if (hub_closer_.joinable()) hub_closer_.join();
  metrics_.reset();  // its scrapes read the pipeline
  if (pipeline_) pipeline_->stop();
  pipeline_.reset();
  if (!temp_log_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_log_dir_, ec);
  }
}

Status RunMonitor::attach(runtime::Sandbox& sandbox, const std::string& container_id) {
  if (!engine_) return fail(ErrorCode::internal, "run monitor: attached twice");
  MonitorOptions o = config_.base;
  o.sandbox_id = sandbox.id();
  o.sandbox_name = config_.sandbox_name;
  o.vmm_pid = static_cast<uint32_t>(sandbox.vm().qemu_pid());
  if (pid_t v = sandbox.vm().virtiofsd_pid(); v > 0) o.helper_tgids = {static_cast<uint32_t>(v)};
  if (auto cg = sandbox.vm().host_cgroup(); !cg.empty()) o.host_cgroups = {cg};
  o.container_ids = {container_id};
  if (config_.pipeline.audit.events) o.want_all_types = true;  // every event goes to the log
  if (config_.container) o.container_info[container_id] = *config_.container;
  if (config_.host_probes) {
    auto hub = monitor::HostProbeHub::open();
    if (!hub) return std::unexpected(hub.error());
    std::lock_guard lock(scrape_mu_);
    hub_ = std::move(*hub);
  }
  if (metrics_) {
    metrics_->observe(o);
    // attach() runs once per boot, when the agent has answered.
    metrics_->on_sandbox_boot(sandbox.timings().agent_ready);
  }
  std::vector<uint32_t> pids = o.helper_tgids;
  pids.push_back(o.vmm_pid);
  std::vector<std::string> cgroups = o.host_cgroups;
  auto started = SandboxMonitor::start(std::move(engine_), std::move(o), hooks_for(sandbox), &pipeline_->log());
  if (!started) return std::unexpected(started.error());
  {
    std::lock_guard lock(scrape_mu_);
    monitor_ = std::move(*started);
    sandbox_id_ = sandbox.id();
    attached_at_ns_ = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
  if (hub_) {
    SandboxMonitor* sink = monitor_.get();
    if (auto st = hub_->attach(sandbox_id_, pids, cgroups, [sink](Event&& ev) { sink->feed_host(std::move(ev)); },
                               sink->host_wanted_types(), sink->host_field_filters());
        !st) {
      monitor_->stop();
      std::lock_guard lock(scrape_mu_);
      monitor_.reset();
      return std::unexpected(Error{st.error().code, st.error().sys_errno, "host probes: " + st.error().message});
    }
  }
  return {};
}

void RunMonitor::detach(bool container_ran) noexcept {
  if (!monitor_) return;
  // Events of the container's last moments may still be in the guest's queue.
  if (container_ran) (void)monitor_->flush(3000ms);
  if (hub_) hub_->detach(sandbox_id_);  // no host record reaches the monitor after this
  monitor_->stop();
  final_stats_ = monitor_->stats();
  std::string host;
  if (hub_) {
    auto h = hub_->stats();
    host = "; host probes: " + std::to_string(h.ringbuf_drops + h.pending_drops) + " drop(s) in the kernel, " +
           std::to_string(h.decode_errors) + " unreadable";
  }
  logger("runtime")->info("monitor: {}{}", monitor::describe(final_stats_), host);
  if (metrics_) metrics_->retire(final_stats_);  // its counts stay in the run's counters
  std::unique_ptr<monitor::HostProbeHub> hub;
  {
    std::lock_guard lock(scrape_mu_);
    monitor_.reset();
    hub = std::move(hub_);
  }
  if (hub) {
    try {
      hub_closer_ = std::thread([hub = std::move(hub)]() mutable { hub.reset(); });
    } catch (...) {
      hub.reset();  // no thread to spare: close it here
    }
  }
  // The last alerts reach their sinks before `run` returns.
  if (pipeline_ && !pipeline_->wait_exported(3000ms)) {
    for (const auto& s : pipeline_->sink_stats())
      if (s.lag) logger("runtime")->warn("exporter {}", exporters::describe(s));
  }
}

}  // namespace kata_sentry::cli
