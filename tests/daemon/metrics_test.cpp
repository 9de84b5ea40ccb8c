// kata-sentryd's Prometheus metrics, scraped by a real Prometheus (Debian's `prometheus`,
// started here with a scrape config pointing at the daemon) and read back through
// Prometheus's HTTP API (/api/v1/query), the way a cluster's monitoring sees them. The daemon
// runs as a process with a fake shim relay (tests/support/sentryd_harness.h).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/event_builder.h"
#include "tests/support/http_get.h"
#include "tests/support/sentryd_harness.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::FakeVmm;
using testing::read_text;

// A Prometheus server scraping one target every second, with its own data directory.
class PrometheusServer {
 public:
  PrometheusServer(const fs::path& dir, uint16_t target_port) : dir_(dir / "prometheus") {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                           << "scrape_configs:\n  - job_name: kata-sentryd\n    static_configs:\n"
                                           << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    port_ = testing::free_loopback_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open((dir_ / "prometheus.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::string config = "--config.file=" + (dir_ / "prometheus.yml").string();
      std::string storage = "--storage.tsdb.path=" + (dir_ / "tsdb").string();
      std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      ::execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(), "--log.level=warn", nullptr);
      _exit(127);
    }
  }
  ~PrometheusServer() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &st, WNOHANG) == 0; i++) std::this_thread::sleep_for(50ms);
    if (::kill(pid_, 0) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
  }
  std::string log() const { return read_text(dir_ / "prometheus.log"); }

  bool wait_ready(std::chrono::seconds timeout = 60s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto r = testing::http_get(port_, "/-/ready", 2);
      if (r && r->status == 200) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return false;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // The instant vector of `promql`: each sample's value (empty: no series).
  std::vector<double> query(const std::string& promql) {
    auto r = testing::http_get(port_, "/api/v1/query?query=" + testing::url_encode(promql));
    if (!r || r->status != 200) return {};
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    std::vector<double> out;
    if (j.is_discarded() || j.value("status", "") != "success") return out;
    for (const auto& s : j["data"]["result"]) out.push_back(std::stod(s["value"][1].get<std::string>()));
    return out;
  }
  // Waits until `promql` has exactly one sample satisfying `pred`.
  bool wait_value(const std::string& promql, const std::function<bool(double)>& pred, std::chrono::seconds timeout = 60s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto v = query(promql);
      if (v.size() == 1 && pred(v[0])) return true;
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }
  bool wait_empty(const std::string& promql, std::chrono::seconds timeout = 60s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (query(promql).empty()) return true;
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }
  // Scrapes of the target so far (a positive marker that Prometheus has looked again).
  double scrapes() {
    auto v = query("count_over_time(up{job=\"kata-sentryd\"}[1h])");
    return v.empty() ? 0 : v[0];
  }

 private:
  fs::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class Metrics : public testing::SentrydFixture {
 protected:
  // The port the daemon bound (its config asks for port 0).
  uint16_t metrics_port() {
    static const std::regex re("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    std::smatch m;
    std::string text = read_text(log());
    if (!std::regex_search(text, m, re)) return 0;
    return uint16_t(std::stoi(m[1].str()));
  }
  std::string scrape() {
    auto r = testing::http_get(metrics_port(), "/metrics");
    return r && r->status == 200 ? r->body : "";
  }
  // The value of one series (name and labels as the exposition writes them) in a scrape.
  static std::optional<double> value_of(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);)
      if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
    return std::nullopt;
  }
  // Scrapes until `series` satisfies `pred`.
  bool wait_series(const std::string& series, const std::function<bool(double)>& pred, std::chrono::seconds timeout = 30s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (auto v = value_of(scrape(), series); v && pred(*v)) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

constexpr const char* kRule = "Guest kernel module load";

TEST_F(Metrics, ARealPrometheusSeesOneRuleMatchNoDropsAndAFreshHeartbeat) {
  start("monitor");
  ASSERT_NE(metrics_port(), 0) << read_text(log());
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-prom", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-prom");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");

  PrometheusServer prom(dir_, metrics_port());
  ASSERT_TRUE(prom.wait_ready()) << prom.log();
  ASSERT_TRUE(prom.wait_value("up{job=\"kata-sentryd\"}", [](double v) { return v == 1; })) << prom.log();
  ASSERT_TRUE(prom.wait_value("kata_sentry_sandboxes{state=\"monitoring\"}", [](double v) { return v == 1; }));
  // The series of every loaded rule is there from the start, at 0.
  const std::string matches = "kata_sentry_rule_matches_total{rule=\"" + std::string(kRule) + "\",priority=\"Critical\"}";
  EXPECT_EQ(prom.query(matches), std::vector<double>{0});

  Event mod = EventBuilder().type(EventType::finit_module).name("insmod").guest().container("c1").res(0).build();
  ASSERT_TRUE(relay->send({mod}, false));
  ASSERT_TRUE(prom.wait_value(matches, [](double v) { return v >= 1; })) << read_text(alerts());
  // Exactly one: still one after two more scrapes.
  double seen_at = prom.scrapes();
  ASSERT_TRUE(prom.wait_value("count_over_time(up{job=\"kata-sentryd\"}[1h])", [&](double v) { return v >= seen_at + 2; }));
  EXPECT_EQ(prom.query(matches), std::vector<double>{1});
  EXPECT_EQ(prom.query("kata_sentry_sandbox_alerts_total{sandbox=\"sb-prom\"}"), std::vector<double>{1});
  EXPECT_EQ(prom.query("kata_sentry_events_total{view=\"guest\",type=\"finit_module\"}"), std::vector<double>{1});
  EXPECT_EQ(prom.query("sum(kata_sentry_drops_total)"), std::vector<double>{0});
  EXPECT_EQ(prom.query("sum(kata_sentry_guest_batches_refused_total)"), std::vector<double>{0});
  EXPECT_EQ(prom.query("kata_sentry_detection_latency_seconds_count{view=\"guest\"}"), std::vector<double>{1});
  // The relay heartbeats every 500 ms; the bound is the daemon's heartbeat timeout (3 s).
  auto age = prom.query("kata_sentry_guest_heartbeat_age_seconds{sandbox=\"sb-prom\"}");
  ASSERT_EQ(age.size(), 1u);
  EXPECT_GE(age[0], 0);
  EXPECT_LT(age[0], 3.0);
  EXPECT_EQ(prom.query("kata_sentry_info{mode=\"monitor\"}"), std::vector<double>{1});
  // The alerts file's exporter delivered the alert, and failed nothing.
  EXPECT_TRUE(prom.wait_value("kata_sentry_exporter_delivered_total{sink=\"alerts_file\"}", [](double v) { return v >= 1; }));
  EXPECT_EQ(prom.query("kata_sentry_exporter_failed_deliveries_total{sink=\"alerts_file\"}"), std::vector<double>{0});
  auto rss = prom.query("kata_sentry_process_resident_memory_bytes");
  ASSERT_EQ(rss.size(), 1u);
  EXPECT_GT(rss[0], 1e6);

  // The sandbox goes: its series go with it; node-wide counters keep its counts.
  ASSERT_TRUE(unregister("sb-prom").ok());
  EXPECT_TRUE(prom.wait_empty("kata_sentry_guest_heartbeat_age_seconds{sandbox=\"sb-prom\"}"));
  EXPECT_TRUE(prom.wait_empty("kata_sentry_sandbox_events_total{sandbox=\"sb-prom\"}"));
  EXPECT_EQ(prom.query("sum(kata_sentry_sandboxes)"), std::vector<double>{0});
  EXPECT_EQ(prom.query(matches), std::vector<double>{1});
}

TEST_F(Metrics, NamesFollowPrometheusConventionsAndPerSandboxSeriesAreCapped) {
  write_config("monitor", "metrics_max_sandboxes: 1\n");
  start_configured();
  FakeVmm vmm1, vmm2;
  ASSERT_TRUE(register_sandbox("sb-first", uint32_t(vmm1.pid())).ok());
  ASSERT_TRUE(register_sandbox("sb-second", uint32_t(vmm2.pid())).ok());
  auto r1 = attach("sb-first");
  auto r2 = attach("sb-second");

  std::string text = scrape();
  ASSERT_FALSE(text.empty()) << read_text(log());
  std::set<std::string> sandboxes;
  std::regex sandbox_label("sandbox=\"([^\"]+)\"");
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(l.substr(7));
      std::string name, type;
      f >> name >> type;
      // prometheus-cpp's own exposer_* series are the library's, not ours.
      if (name.rfind("exposer_", 0) == 0) continue;
      EXPECT_EQ(name.rfind("kata_sentry_", 0), 0u) << name;
      if (type == "counter") EXPECT_TRUE(name.ends_with("_total")) << name;
      else EXPECT_FALSE(name.ends_with("_total")) << name << " is a " << type;
      continue;
    }
    std::smatch m;
    if (std::regex_search(l, m, sandbox_label)) sandboxes.insert(m[1].str());
  }
  EXPECT_EQ(sandboxes, std::set<std::string>{"sb-first"}) << "the cap keeps the oldest registration";
  EXPECT_NE(text.find("\nkata_sentry_sandboxes_unlabelled 1\n"), std::string::npos) << text;

  // Prometheus's own linter agrees.
  fs::path saved = dir_ / "scrape.txt";
  std::ofstream(saved) << text;
  std::string cmd = "promtool check metrics < " + saved.string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string lint;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) lint += buf;
  int st = ::pclose(p);
  // The only complaint allowed is about the library's exposer_request_latencies summary.
  std::istringstream complaints(lint);
  for (std::string l; std::getline(complaints, l);)
    if (l.find("exposer_") == std::string::npos) ADD_FAILURE() << "promtool: " << l;
  EXPECT_TRUE(WIFEXITED(st)) << lint;
}

// The alerts file is a sink: its delivered counter follows what it wrote, one for one.
TEST_F(Metrics, ASinksDeliveredCounterGrowsByExactlyTheAlertsItWrote) {
  // No signed checkpoint during the test: the sink would deliver it as one more record.
  write_config("monitor", "", "  checkpoint_seconds: 86400\n");
  start_configured();
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-sink", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-sink");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");
  const std::string delivered = "kata_sentry_exporter_delivered_total{sink=\"alerts_file\"}";
  const std::string lag = "kata_sentry_exporter_lag_records{sink=\"alerts_file\"}";
  // Caught up: whatever the daemon recorded so far (its first checkpoint) is delivered.
  ASSERT_TRUE(wait_series(lag, [](double v) { return v == 0; })) << scrape();
  const double before = value_of(scrape(), delivered).value_or(-1);
  ASSERT_GE(before, 0);

  constexpr int kAlerts = 3;
  std::vector<Event> mods;
  for (int i = 0; i < kAlerts; i++)
    mods.push_back(EventBuilder().type(EventType::finit_module).name("insmod").guest().container("c1").res(0).build());
  ASSERT_TRUE(relay->send(mods, false));
  auto written = [&] {
    return testing::wait_lines(alerts(), [](const nlohmann::json& j) { return j.value("rule", "") == kRule; }, 30s).size();
  };
  for (int i = 0; i < 300 && written() < size_t(kAlerts); i++) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(written(), size_t(kAlerts)) << read_text(alerts());
  ASSERT_TRUE(wait_series(delivered, [&](double v) { return v >= before + kAlerts; })) << scrape();
  const std::string text = scrape();
  EXPECT_EQ(value_of(text, delivered), before + kAlerts) << text;
  EXPECT_EQ(value_of(text, lag), 0) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_exporter_failed_deliveries_total{sink=\"alerts_file\"}"), 0) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_exporter_healthy{sink=\"alerts_file\"}"), 1) << text;
  // Every record the sink delivered is one line of its file.
  std::istringstream file(read_text(alerts()));
  size_t lines = 0;
  for (std::string l; std::getline(file, l);) lines++;
  EXPECT_EQ(double(lines), before + kAlerts) << read_text(alerts());
  // The audit log the sink follows holds them too.
  EXPECT_GE(value_of(text, "kata_sentry_audit_log_records_total").value_or(0), before + kAlerts) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_audit_log_failed"), 0) << text;
}

// A shim registers its sandbox with the boot time once, right after the boot.
TEST_F(Metrics, OneRegistrationAfterABootIsOneBootTimeObservation) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-boot", uint32_t(vmm.pid()), {"c1"}, 2'500'000'000).ok());
  std::string text = scrape();
  EXPECT_EQ(value_of(text, "kata_sentry_sandbox_boot_seconds_count"), 1) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_sandbox_boot_seconds_sum"), 2.5) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_sandbox_boot_seconds_bucket{le=\"2\"}"), 0) << text;
  EXPECT_EQ(value_of(text, "kata_sentry_sandbox_boot_seconds_bucket{le=\"5\"}"), 1) << text;
  // Registered again (as after a relay break): no boot time, no observation.
  ASSERT_TRUE(unregister("sb-boot").ok());
  ASSERT_TRUE(register_sandbox("sb-boot", uint32_t(vmm.pid()), {"c1"}).ok());
  text = scrape();
  EXPECT_EQ(value_of(text, "kata_sentry_sandbox_boot_seconds_count"), 1) << text;
}

TEST_F(Metrics, ABusyMetricsAddressStopsTheDaemonNamingIt) {
  start("monitor");
  uint16_t taken = metrics_port();
  ASSERT_NE(taken, 0);
  // A second daemon asked for the same address.
  fs::path other = dir_ / "other.yaml";
  std::ofstream(other) << "socket: " << (dir_ / "other.sock").string() << "\nalerts_file: " << (dir_ / "other.jsonl").string()
                       << "\nmetrics_address: 127.0.0.1:" << taken << "\nhost_probes: false\n"
                       // Its own audit log: the default directory may be another daemon's on a shared machine.
                       << "audit:\n  dir: " << (dir_ / "other-audit").string() << "\n  key_file: " << (dir_ / "node.key").string()
                       << "\n  min_free_bytes: 0\n";
  int code = run_to_end({"--config", other.string()});
  EXPECT_EQ(code, 1);
  EXPECT_NE(read_text(log()).find("metrics: cannot serve on '127.0.0.1:" + std::to_string(taken) + "'"), std::string::npos)
      << read_text(log());
}

// `kata-sentry check` says whether a configured daemon's socket and metrics endpoint answer.
TEST_F(Metrics, KataSentryCheckReportsTheDaemonSocketAndMetricsEndpoint) {
  uint16_t port = testing::free_loopback_port();
  write_config("monitor", "metrics_address: 127.0.0.1:" + std::to_string(port) + "\n");
  start_configured();
  const std::string cmd = std::string(KS_CLI_BINARY) + " check --json --daemon-config " + (dir_ / "sentryd.yaml").string() + " 2>/dev/null";
  auto check = [&] {
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
    return nlohmann::json::parse(out, nullptr, false);
  };
  auto up = check();
  ASSERT_FALSE(up.is_discarded());
  EXPECT_EQ(up["daemon"]["socket"]["available"], true) << up["daemon"].dump();
  EXPECT_EQ(up["daemon"]["metrics"]["available"], true) << up["daemon"].dump();
  stop();
  auto down = check();
  ASSERT_FALSE(down.is_discarded());
  EXPECT_EQ(down["daemon"]["socket"]["available"], false) << down["daemon"].dump();
  EXPECT_EQ(down["daemon"]["metrics"]["available"], false) << down["daemon"].dump();
  EXPECT_NE(down["daemon"]["metrics"]["detail"].get<std::string>().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry
