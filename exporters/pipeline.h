// The audit log and its exporters as one unit, as kata-sentryd and `kata-sentry run` use them:
// the monitor appends to log(); each configured sink follows the log on its own thread.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "core/result.h"
#include "exporters/audit_log.h"
#include "exporters/exporter.h"
#include "exporters/sink_config.h"

namespace YAML {
class Node;
}

namespace kata_sentry::exporters {

struct PipelineConfig {
  AuditConfig audit;
  std::vector<SinkConfig> sinks;
};

class Pipeline {
 public:
  // Opens the log, builds every sink (a bad config or unreadable secret fails here), and starts
  // the exporters.
  static Result<std::unique_ptr<Pipeline>> start(const PipelineConfig& config, AuditLogHooks hooks = {});
  ~Pipeline();  // stop()

  AuditLog& log() { return *log_; }
  std::vector<SinkStats> sink_stats() const;
  // Waits until every sink acknowledged what the log holds now; false on timeout.
  bool wait_exported(std::chrono::milliseconds timeout) const;
  // Closes the log (a final signed checkpoint), gives the sinks `drain` to deliver it, then
  // stops them. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(5)) noexcept;

 private:
  Pipeline() = default;
  std::unique_ptr<AuditLog> log_;
  std::vector<std::unique_ptr<Exporter>> exporters_;
};

// A file holding only `audit:` and `exporters:` sections (`kata-sentry run --config`), read as
// strictly as sentryd.yaml. Without an `audit:` section audit.dir is left empty.
Result<PipelineConfig> load_pipeline_config(const std::string& path);

// One line per sink for logs: "siem (syslog tcp 127.0.0.1:6514 cef): 1200 delivered, lag 0, ..."
std::string describe(const SinkStats& stats);

}  // namespace kata_sentry::exporters
