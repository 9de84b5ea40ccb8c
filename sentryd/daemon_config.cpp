#include "sentryd/daemon_config.h"

#include "core/strict_yaml.h"

#include <yaml-cpp/yaml.h>

namespace kata_sentry::daemon {

Result<DaemonConfig> load_daemon_config(const std::string& path) {
  DaemonConfig c;
  std::string mode = "monitor";
  config::StrictYaml y;
  y.string("socket", &c.socket);
  y.string("alerts_file", &c.alerts_file);
  y.strings("rules", &c.rules);
  y.choice("mode", {"monitor", "enforce"}, &mode);
  y.boolean("host_probes", &c.host_probes);
  y.number("guest_events_per_second", &c.guest_events_per_second, 1, 1e7);
  y.number("guest_burst", &c.guest_burst, 1, 1e8);
  y.unsigned_int("heartbeat_timeout_ms", &c.heartbeat_timeout_ms, 1000, 600000);
  y.choice("log_level", {"debug", "info", "warn", "error"}, &c.log_level);
  y.nested("audit", [&c](const YAML::Node& n, const std::string& origin) -> Result<std::function<void()>> {
    auto a = exporters::read_audit_config(n, origin);
    if (!a) return std::unexpected(a.error());
    return [&c, a = *a] { c.pipeline.audit = a; };
  });
  y.nested("exporters", [&c](const YAML::Node& n, const std::string& origin) -> Result<std::function<void()>> {
    auto s = exporters::read_sinks_config(n, origin);
    if (!s) return std::unexpected(s.error());
    return [&c, s = *s] { c.pipeline.sinks = s; };
  });
  y.string("metrics_address", &c.metrics_address);
  y.unsigned_int("metrics_max_sandboxes", &c.metrics_max_sandboxes, 0, 100000);
  const std::string file = path.empty() ? kDefaultConfigPath : path;
  if (auto st = y.load_file(file, path.empty()); !st) return std::unexpected(st.error());
  if (!c.alerts_file.empty()) {
    exporters::SinkConfig f;
    f.name = "alerts_file";
    f.type = "file";
    f.path = c.alerts_file;
    c.pipeline.sinks.insert(c.pipeline.sinks.begin(), f);
  }
  if (auto st = exporters::check_sinks(c.pipeline.sinks, file); !st) return std::unexpected(st.error());
  c.mode = mode == "enforce" ? policy::Mode::enforce : policy::Mode::monitor;
  if (c.socket.empty() || c.socket[0] != '/')
    return fail(ErrorCode::invalid_argument, (path.empty() ? kDefaultConfigPath : path) + ": 'socket' must be an absolute path");
  if (!c.metrics_address.empty() && c.metrics_address.rfind(':') == std::string::npos)
    return fail(ErrorCode::invalid_argument, (path.empty() ? kDefaultConfigPath : path) + ": 'metrics_address' must be host:port (or \"\" for none), not '" +
                                                 c.metrics_address + "'");
  return c;
}

}  // namespace kata_sentry::daemon
