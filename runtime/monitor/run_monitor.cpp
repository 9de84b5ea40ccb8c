#include "runtime/monitor/run_monitor.h"

#include "core/logging.h"
#include "runtime/monitor/rules_path.h"
#include "runtime/sandbox/sandbox.h"

namespace kata_sentry::monitor {

using namespace std::chrono_literals;

Result<std::unique_ptr<RunMonitor>> RunMonitor::create(RunMonitorConfig config) {
  std::unique_ptr<RunMonitor> m(new RunMonitor());
  if (config.rule_paths.empty()) {
    auto dir = default_rules_dir();
    if (!dir) return std::unexpected(dir.error());
    config.rule_paths.push_back(*dir);
  }
  auto engine = load_engine(config.rule_paths, config.mode);
  if (!engine) return std::unexpected(engine.error());
  m->engine_ = std::move(*engine);
  if (config.alerts_path.empty()) {
    m->writer_ = std::make_unique<AlertWriter>();
  } else {
    auto w = AlertWriter::open_file(config.alerts_path);
    if (!w) return std::unexpected(w.error());
    m->writer_ = std::move(*w);
  }
  m->config_ = std::move(config);
  return m;
}

RunMonitor::~RunMonitor() { detach(false); }

Status RunMonitor::attach(runtime::Sandbox& sandbox) {
  if (!engine_) return fail(ErrorCode::internal, "run monitor: attached twice");
  MonitorOptions o = config_.base;
  o.sandbox_id = sandbox.id();
  o.sandbox_name = config_.sandbox_name;
  o.vmm_pid = static_cast<uint32_t>(sandbox.vm().qemu_pid());
  o.host_tgids = {o.vmm_pid};
  if (pid_t v = sandbox.vm().virtiofsd_pid(); v > 0) o.helper_tgids = {static_cast<uint32_t>(v)};
  if (auto cg = sandbox.vm().host_cgroup(); !cg.empty()) o.host_cgroups = {cg};
  o.host_probes = config_.host_probes;
  auto started = SandboxMonitor::start(std::move(engine_), std::move(o), hooks_for(sandbox), writer_.get());
  if (!started) return std::unexpected(started.error());
  monitor_ = std::move(*started);
  return {};
}

void RunMonitor::detach(bool container_ran) noexcept {
  if (!monitor_) return;
  // Events of the container's last moments may still be in the guest's queue.
  if (container_ran) (void)monitor_->flush(3000ms);
  monitor_->stop();
  final_stats_ = monitor_->stats();
  const auto& s = final_stats_;
  auto log = logger("runtime");
  log->info(
      "monitor: {} alert(s); host {} record(s), {} ring-buffer drop(s); guest {} event(s) in {} batch(es), {} heartbeat(s), "
      "{} rate-limited, {} missing by seq; guest-reported drops {} ring-buffer, {} rate-limited, {} queue; "
      "host deny {} ({} refusal(s), {} record(s) lost)",
      s.alerts, s.host_records, s.host_ringbuf_drops + s.host_pending_drops, s.guest_events, s.guest_batches, s.guest_heartbeats,
      s.guest_rate_limited, s.guest_seq_missing, s.guest_reported.ringbuf_drops, s.guest_reported.rate_limited,
      s.guest_reported.queue_drops, s.host_deny_attached ? "attached" : "off", s.host_refusals, s.host_refusal_drops);
  monitor_.reset();
}

}  // namespace kata_sentry::monitor
