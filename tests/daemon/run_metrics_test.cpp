// `kata-sentry run --metrics ADDR`: the run's embedded monitor serves kata-sentryd's metrics
// (sentryd/daemon_metrics.h) from the moment its rules and audit log are ready, before any VM
// boots. A real HTTP GET of /metrics; the sandbox's own series are covered by the daemon's
// tests (sentryd_metrics_test), which feed the same collector.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "cli/run_monitor.h"
#include "sentryd/daemon_metrics.h"
#include "tests/support/http_get.h"

namespace kata_sentry::cli {
namespace {

namespace fs = std::filesystem;

class RunMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ks-run-metrics-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunMonitorConfig config(const std::string& metrics_address) const {
    RunMonitorConfig c;
    c.rule_paths = {KS_RULES_DIR};
    c.alerts_path = (dir_ / "alerts.jsonl").string();
    c.pipeline.audit.dir = (dir_ / "audit").string();
    c.pipeline.audit.key_file = (dir_ / "node.key").string();
    c.pipeline.audit.min_free_bytes = 0;
    c.host_probes = false;
    c.metrics_address = metrics_address;
    return c;
  }

  fs::path dir_;
};

uint16_t port_of(const std::string& address) { return uint16_t(std::stoi(address.substr(address.rfind(':') + 1))); }

TEST_F(RunMetrics, TheRunServesTheDaemonsMetricsForItsRulesAndSinks) {
  auto run = RunMonitor::create(config("127.0.0.1:0"));
  ASSERT_TRUE(run) << run.error().describe();
  ASSERT_NE((*run)->metrics(), nullptr);
  auto r = testing::http_get(port_of((*run)->metrics()->address()), "/metrics");
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->status, 200);
  const std::string& text = r->body;
  EXPECT_NE(text.find("\nkata_sentry_info{"), std::string::npos) << text;
  // The rules are loaded: their series are there at 0.
  EXPECT_NE(text.find("\nkata_sentry_rule_matches_total{priority=\"Critical\",rule=\"Guest kernel module load\"} 0\n"), std::string::npos)
      << text;
  // The run's pipeline: its alerts file sink and its audit log.
  EXPECT_NE(text.find("\nkata_sentry_exporter_delivered_total{sink=\"alerts\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("\nkata_sentry_exporter_failed_deliveries_total{sink=\"alerts\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nkata_sentry_audit_log_failed 0\n"), std::string::npos) << text;
  // No sandbox yet: no boot observed, none counted.
  EXPECT_NE(text.find("\nkata_sentry_sandbox_boot_seconds_count 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nkata_sentry_sandboxes{state=\"monitoring\"} 0\n"), std::string::npos) << text;
}

TEST_F(RunMetrics, ABusyAddressFailsTheRunBeforeItBootsNamingTheAddress) {
  auto first = RunMonitor::create(config("127.0.0.1:0"));
  ASSERT_TRUE(first) << first.error().describe();
  const std::string taken = (*first)->metrics()->address();
  fs::create_directories(dir_ / "second");
  auto c = config(taken);
  c.pipeline.audit.dir = (dir_ / "second" / "audit").string();
  c.alerts_path = (dir_ / "second" / "alerts.jsonl").string();
  auto second = RunMonitor::create(c);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().describe().find("metrics: cannot serve on '" + taken + "'"), std::string::npos) << second.error().describe();
}

}  // namespace
}  // namespace kata_sentry::cli
