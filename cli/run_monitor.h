// The monitor as `kata-sentry run` embeds it: rules and the alert output are prepared before
// the VM boots (a bad rule or an unwritable alerts file costs no boot), the SandboxMonitor is
// started when the sandbox is up (with a host probe hub of its own for the one sandbox, like
// kata-sentryd's for its node) and stopped, after the guest delivered what was in flight,
// when the container has exited.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "monitor/host_probe_hub.h"
#include "monitor/sandbox_monitor.h"
#include "runtime/sandbox/run.h"

namespace kata_sentry::cli {

struct RunMonitorConfig {
  std::vector<std::string> rule_paths;  // empty: default_rules_dir()
  policy::Mode mode = policy::Mode::monitor;
  std::string alerts_path;              // empty: text lines on stderr
  std::string sandbox_name = "kata-sentry-run";
  bool host_probes = true;
  monitor::MonitorOptions base;         // rate limits, watchdog, callbacks; ids and pids are filled in
};

// The monitor reaches the sandbox it watches directly: the agent client and the VM are in
// this process.
monitor::SandboxHooks hooks_for(runtime::Sandbox& sandbox);

class RunMonitor : public runtime::SandboxObserver {
 public:
  // Loads the rules and opens the alert output. Fails with every rule diagnostic, or naming the
  // alerts file.
  static Result<std::unique_ptr<RunMonitor>> create(RunMonitorConfig config);
  ~RunMonitor() override;

  Status attach(runtime::Sandbox& sandbox, const std::string& container_id) override;
  void detach(bool container_ran) noexcept override;

  // Valid after detach(): the final counters.
  const monitor::MonitorStats& final_stats() const { return final_stats_; }
  monitor::SandboxMonitor* sandbox_monitor() { return monitor_.get(); }
  monitor::HostProbeHub* host_probes() { return hub_.get(); }

 private:
  RunMonitor() = default;
  RunMonitorConfig config_;
  std::unique_ptr<policy::Engine> engine_;  // moved into the monitor at attach
  std::unique_ptr<monitor::AlertWriter> writer_;
  std::unique_ptr<monitor::HostProbeHub> hub_;  // before the monitor: destroyed after it
  // Closing the host probes detaches some 65 tracepoints, each waiting for an RCU grace period
  // (~2.5 s in all): detach() hands the hub to this thread, so that it overlaps the sandbox's
  // teardown; the destructor joins it.
  std::thread hub_closer_;
  std::unique_ptr<monitor::SandboxMonitor> monitor_;
  std::string sandbox_id_;
  monitor::MonitorStats final_stats_;
};

}  // namespace kata_sentry::cli
