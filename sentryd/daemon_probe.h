// Is a configured kata-sentryd reachable? For `kata-sentry check`: the API socket answers
// ListSandboxes, and the metrics endpoint answers GET /metrics.
#pragma once

#include <string>

#include "core/host_support.h"
#include "sentryd/daemon_config.h"

namespace kata_sentry::daemon {

struct DaemonReachability {
  bool configured = false;  // a config file was found (or given)
  std::string config_path;
  Capability socket;        // detail: "<path>: N sandbox(es)" or why not
  Capability metrics;       // detail: "http://host:port/metrics" or why not
};

// `config_path` empty: the default path; no file there means no daemon is configured (not
// an error). A file that does not load is reported in `socket.detail`.
DaemonReachability probe_daemon(const std::string& config_path);

}  // namespace kata_sentry::daemon
