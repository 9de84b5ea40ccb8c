// The monitor as `kata-sentry run` embeds it: rules and the alert output are prepared before
// the VM boots (a bad rule or an unwritable alerts file costs no boot), the SandboxMonitor is
// started when the sandbox is up (with a host probe hub of its own for the one sandbox, like
// kata-sentryd's for its node) and stopped, after the guest delivered what was in flight,
// when the container has exited.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "exporters/pipeline.h"
#include "monitor/host_probe_hub.h"
#include "monitor/sandbox_monitor.h"
#include "runtime/sandbox/run.h"

namespace kata_sentry::daemon {
class DaemonMetrics;
}

namespace kata_sentry::cli {

struct RunMonitorConfig {
  std::vector<std::string> rule_paths;  // empty: default_rules_dir()
  policy::Mode mode = policy::Mode::monitor;
  std::string alerts_path;              // a file exporter (Falco JSON lines); with no exporter at all: text on stderr
  // The audit log and its exporters (`--config FILE`'s audit: and exporters: sections).
  // audit.dir empty: a private log under /run/kata-sentry, removed when the run ends.
  exporters::PipelineConfig pipeline;
  std::string sandbox_name = "kata-sentry-run";
  bool host_probes = true;
  // The container's container.* facts (monitor/container_enrichment.h), for its guest events.
  std::optional<policy::Enrichment> container;
  monitor::MonitorOptions base;         // rate limits, watchdog, callbacks; ids and pids are filled in
  // host:port: serve kata-sentryd's Prometheus metrics (sentryd/daemon_metrics.h) for this run,
  // from create() on. Empty: none.
  std::string metrics_address;
};

// The monitor reaches the sandbox it watches directly: the agent client and the VM are in
// this process.
monitor::SandboxHooks hooks_for(runtime::Sandbox& sandbox);

class RunMonitor : public runtime::SandboxObserver {
 public:
  // Loads the rules, opens the audit log and starts its exporters. Fails with every rule
  // diagnostic, or naming the log, the alerts file or the exporter.
  static Result<std::unique_ptr<RunMonitor>> create(RunMonitorConfig config);
  ~RunMonitor() override;

  Status attach(runtime::Sandbox& sandbox, const std::string& container_id) override;
  void detach(bool container_ran) noexcept override;

  // Valid after detach(): the final counters.
  const monitor::MonitorStats& final_stats() const { return final_stats_; }
  monitor::SandboxMonitor* sandbox_monitor() { return monitor_.get(); }
  monitor::HostProbeHub* host_probes() { return hub_.get(); }
  // Null without metrics_address.
  const daemon::DaemonMetrics* metrics() const { return metrics_.get(); }

 private:
  RunMonitor() = default;
  RunMonitorConfig config_;
  std::unique_ptr<policy::Engine> engine_;  // moved into the monitor at attach
  std::string temp_log_dir_;                      // removed at the end when the log is private
  std::unique_ptr<exporters::Pipeline> pipeline_;  // before the monitor: destroyed after it
  std::unique_ptr<monitor::HostProbeHub> hub_;  // before the monitor: destroyed after it
  // Closing the host probes detaches some 65 tracepoints, each waiting for an RCU grace period
  // (~2.5 s in all): detach() hands the hub to this thread, so that it overlaps the sandbox's
  // teardown; the destructor joins it.
  std::thread hub_closer_;
  std::unique_ptr<monitor::SandboxMonitor> monitor_;
  std::string sandbox_id_;
  uint64_t attached_at_ns_ = 0;
  monitor::MonitorStats final_stats_;
  // A scrape reads monitor_ and hub_ from the metrics server's thread.
  std::mutex scrape_mu_;
  std::unique_ptr<daemon::DaemonMetrics> metrics_;  // reset after the monitor stops, before the pipeline
  void serve_metrics();
};

}  // namespace kata_sentry::cli
