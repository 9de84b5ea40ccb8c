// kata-sentryd's configuration: a strict YAML file (core/strict_yaml.h) over these
// defaults. deploy/config/sentryd.yaml documents every key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "exporters/pipeline.h"
#include "policy-engine/engine.h"

namespace kata_sentry::daemon {

inline constexpr const char* kDefaultConfigPath = "/etc/kata-sentry/sentryd.yaml";
inline constexpr const char* kDefaultSocketPath = "/run/kata-sentry/sentryd.sock";

struct DaemonConfig {
  std::string socket = kDefaultSocketPath;
  // Shorthand for a `file` exporter named "alerts_file" (Falco JSON lines); "" for none.
  std::string alerts_file = "/var/log/kata-sentry/alerts.jsonl";
  // The `audit:` and `exporters:` sections (exporters/): the durable log and its sinks. After
  // loading, `pipeline.sinks` includes the alerts_file exporter.
  exporters::PipelineConfig pipeline;
  std::vector<std::string> rules;  // empty: the default rules directory
  policy::Mode mode = policy::Mode::monitor;
  bool host_probes = true;
  double guest_events_per_second = 20000;
  double guest_burst = 40000;
  uint64_t heartbeat_timeout_ms = 3000;
  std::string log_level = "info";
  // Prometheus metrics: host:port to serve /metrics on; "" turns them off. Loopback by
  // default: the series name sandboxes and rules, so exposing them is the operator's choice.
  std::string metrics_address = "127.0.0.1:9464";
  uint64_t metrics_max_sandboxes = 64;  // per-sandbox series beyond this many are left out
};

// `path` empty: the default path, where a missing file means the defaults. A path given
// explicitly must exist. Errors name file:line:column and the key.
Result<DaemonConfig> load_daemon_config(const std::string& path);

}  // namespace kata_sentry::daemon
