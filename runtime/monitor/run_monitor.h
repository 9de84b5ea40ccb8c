// The monitor as `kata-sentry run` embeds it: rules and the alert output are prepared before
// the VM boots (a bad rule or an unwritable alerts file costs no boot), the SandboxMonitor is
// started when the sandbox is up and stopped, after the guest delivered what was in flight,
// when the container has exited.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "runtime/monitor/sandbox_monitor.h"
#include "runtime/sandbox/run.h"

namespace kata_sentry::monitor {

struct RunMonitorConfig {
  std::vector<std::string> rule_paths;  // empty: default_rules_dir()
  policy::Mode mode = policy::Mode::monitor;
  std::string alerts_path;              // empty: text lines on stderr
  std::string sandbox_name = "kata-sentry-run";
  bool host_probes = true;
  MonitorOptions base;                  // rate limits, watchdog, callbacks; ids and pids are filled in
};

class RunMonitor : public runtime::SandboxObserver {
 public:
  // Loads the rules and opens the alert output. Fails with every rule diagnostic, or naming the
  // alerts file.
  static Result<std::unique_ptr<RunMonitor>> create(RunMonitorConfig config);
  ~RunMonitor() override;

  Status attach(runtime::Sandbox& sandbox) override;
  void detach(bool container_ran) noexcept override;

  // Valid after detach(): the final counters.
  const MonitorStats& final_stats() const { return final_stats_; }
  SandboxMonitor* monitor() { return monitor_.get(); }

 private:
  RunMonitor() = default;
  RunMonitorConfig config_;
  std::unique_ptr<policy::Engine> engine_;  // moved into the monitor at attach
  std::unique_ptr<AlertWriter> writer_;
  std::unique_ptr<SandboxMonitor> monitor_;
  MonitorStats final_stats_;
};

}  // namespace kata_sentry::monitor
