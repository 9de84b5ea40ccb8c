#include "cli/run_monitor.h"

#include "core/logging.h"
#include "monitor/rules_path.h"
#include "runtime/sandbox/sandbox.h"

namespace kata_sentry::cli {

using monitor::MonitorOptions;
using monitor::SandboxHooks;
using monitor::SandboxMonitor;
using monitor::AlertWriter;

using namespace std::chrono_literals;

SandboxHooks hooks_for(runtime::Sandbox& sandbox) {
  SandboxHooks h;
  runtime::Sandbox* sb = &sandbox;
  h.stream_events = [sb](const std::function<bool(std::string&&)>& fn) { return sb->agent().stream_events(fn); };
  h.set_enforcement = [sb](const std::vector<DenyRule>& rules) { return sb->agent().set_enforcement(rules); };
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

RunMonitor::~RunMonitor() {
  detach(false);
  if (hub_closer_.joinable()) hub_closer_.join();
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
  if (config_.host_probes) {
    auto hub = monitor::HostProbeHub::open();
    if (!hub) return std::unexpected(hub.error());
    hub_ = std::move(*hub);
  }
  std::vector<uint32_t> pids = o.helper_tgids;
  pids.push_back(o.vmm_pid);
  std::vector<std::string> cgroups = o.host_cgroups;
  auto started = SandboxMonitor::start(std::move(engine_), std::move(o), hooks_for(sandbox), writer_.get());
  if (!started) return std::unexpected(started.error());
  monitor_ = std::move(*started);
  sandbox_id_ = sandbox.id();
  if (hub_) {
    SandboxMonitor* sink = monitor_.get();
    if (auto st = hub_->attach(sandbox_id_, pids, cgroups, [sink](Event&& ev) { sink->feed_host(std::move(ev)); }); !st) {
      monitor_->stop();
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
  monitor_.reset();
  if (hub_) {
    try {
      hub_closer_ = std::thread([hub = std::move(hub_)]() mutable { hub.reset(); });
    } catch (...) {
      hub_.reset();  // no thread to spare: close it here
    }
  }
}

}  // namespace kata_sentry::cli
