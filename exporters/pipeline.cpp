#include "exporters/pipeline.h"

#include <yaml-cpp/yaml.h>

#include "core/logging.h"
#include "core/strict_yaml.h"

namespace kata_sentry::exporters {

Result<std::unique_ptr<Pipeline>> Pipeline::start(const PipelineConfig& config, AuditLogHooks hooks) {
  if (auto st = check_sinks(config.sinks, "exporters"); !st) return std::unexpected(st.error());
  // Every sink is built before anything starts: a bad one costs nothing.
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const auto& c : config.sinks) {
    auto s = build_sink(c);
    if (!s) return std::unexpected(Error{s.error().code, s.error().sys_errno, "exporter '" + c.name + "': " + s.error().message});
    sinks.push_back(std::move(*s));
  }
  std::unique_ptr<Pipeline> p(new Pipeline());
  auto log = AuditLog::open(config.audit, std::move(hooks));
  if (!log) return std::unexpected(log.error());
  p->log_ = std::move(*log);
  for (size_t i = 0; i < sinks.size(); ++i) {
    auto e = Exporter::start(*p->log_, std::move(sinks[i]), exporter_options(config.sinks[i]));
    if (!e) return std::unexpected(e.error());
    logger("export")->info("exporter {}: {} from seq {}", config.sinks[i].name, (*e)->stats().destination, (*e)->stats().acked_seq + 1);
    p->exporters_.push_back(std::move(*e));
  }
  return p;
}

Pipeline::~Pipeline() { stop(); }

std::vector<SinkStats> Pipeline::sink_stats() const {
  std::vector<SinkStats> out;
  for (const auto& e : exporters_) out.push_back(e->stats());
  return out;
}

bool Pipeline::wait_exported(std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (const auto& e : exporters_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() < 0 || !e->wait_caught_up(left)) return false;
  }
  return true;
}

void Pipeline::stop(std::chrono::milliseconds drain) noexcept {
  if (!log_) return;
  log_->close();
  (void)wait_exported(drain);
  for (auto& e : exporters_) {
    e->stop();
    logger("export")->info("exporter {}", describe(e->stats()));
  }
  exporters_.clear();
  log_.reset();
}

Result<PipelineConfig> load_pipeline_config(const std::string& path) {
  PipelineConfig c;
  c.audit.dir.clear();
  config::StrictYaml y;
  y.nested("audit", [&c](const YAML::Node& n, const std::string& origin) -> Result<std::function<void()>> {
    auto a = read_audit_config(n, origin);
    if (!a) return std::unexpected(a.error());
    return [&c, a = *a] { c.audit = a; };
  });
  y.nested("exporters", [&c](const YAML::Node& n, const std::string& origin) -> Result<std::function<void()>> {
    auto s = read_sinks_config(n, origin);
    if (!s) return std::unexpected(s.error());
    return [&c, s = *s] { c.sinks = s; };
  });
  if (auto st = y.load_file(path, false); !st) return std::unexpected(st.error());
  return c;
}

std::string describe(const SinkStats& s) {
  std::string out = s.name + " (" + s.destination + "): " + std::to_string(s.delivered) + " delivered, " + std::to_string(s.filtered) +
                    " filtered, acknowledged up to seq " + std::to_string(s.acked_seq) + ", lag " + std::to_string(s.lag) + ", " +
                    std::to_string(s.failures) + " failed attempt(s)";
  if (s.skipped_retention) out += ", " + std::to_string(s.skipped_retention) + " lost to retention";
  if (!s.healthy) out += "; last error: " + s.last_error;
  return out;
}

}  // namespace kata_sentry::exporters
