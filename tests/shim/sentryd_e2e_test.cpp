// containerd, the shim and kata-sentryd together, as on a node: a private containerd whose
// shims find kata-sentry on PATH and read a shim.yaml that points at a private kata-sentryd.
// An attack run through `ctr run` must reach the daemon's alerts file with the container id
// containerd knows, enforce mode must block it in the guest, and with the daemon gone a
// fail-closed runtime must refuse new pods with an error that says why, before any VM boots.
// kata-trace follows a real pod: its events (also across a daemon restart) and its processes.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/http_get.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::Background;
using test_support::CmdResult;
using test_support::path_with;
using test_support::PrivateContainerd;
using test_support::PrivateContainerdOptions;
using test_support::processes_with;
using test_support::read_text;
using test_support::run;
using test_support::TempDir;

constexpr const char* kImage = "docker.io/kata-sentry/busybox:latest";
constexpr const char* kRuntime = "io.containerd.kata-sentry.v2";
constexpr const char* kCorePatternWrite = "echo '|/x' > /proc/sys/kernel/core_pattern";

size_t occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// Waits until `file` holds `text` at least `times` times (a positive marker, never a sleep).
bool wait_for_count(const fs::path& file, const std::string& text, size_t times, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (occurrences(read_text(file), text) < times) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

// `kata-trace tree` output: the lines under one view's heading ("host" or "guest").
std::vector<std::string> tree_section(const std::string& out, const std::string& view) {
  std::vector<std::string> lines;
  bool in = false;
  std::istringstream text(out);
  for (std::string l; std::getline(text, l);) {
    if (l == "host" || l == "guest") {
      in = l == view;
      continue;
    }
    if (in) lines.push_back(l);
  }
  return lines;
}

// How deep a tree line is: the width of its indentation and branch marks.
size_t tree_depth(const std::string& line) { return line.find_first_not_of(" │├└─"); }

// True when a line holding `child` comes after a line holding `parent` and deeper, with no
// line at the parent's depth or shallower in between: the child is in the parent's subtree.
bool listed_under(const std::vector<std::string>& lines, const std::string& parent, const std::string& child) {
  for (size_t p = 0; p < lines.size(); ++p) {
    if (lines[p].find(parent) == std::string::npos) continue;
    for (size_t c = p + 1; c < lines.size() && tree_depth(lines[c]) > tree_depth(lines[p]); ++c)
      if (lines[c].find(child) != std::string::npos) return true;
  }
  return false;
}

class SentrydE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (containerd, BPF, QEMU)";
    if (run({"containerd", "--version"}).status != 0) GTEST_SKIP() << "containerd is not installed (scripts/setup.sh)";
    ASSERT_FALSE(dir_.path().empty());
    dir_.write("shim.yaml", "daemon_socket: " + socket().string() + "\ndaemon_policy: fail-closed\n");
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- kata-sentryd log ---\n" << read_text(dir_.path() / "sentryd.log") << "\n";
      if (cd_) std::cerr << "--- containerd.log (tail) ---\n" << cd_->log_tail() << "\n";
    }
    cd_.reset();
    daemon_.stop();
  }

  fs::path socket() const { return dir_.path() / "run" / "sentryd.sock"; }
  fs::path alerts() const { return dir_.path() / "alerts.jsonl"; }

  void start_daemon(const std::string& mode) {
    fs::path config = dir_.write("sentryd.yaml", "socket: " + socket().string() + "\nalerts_file: " + alerts().string() +
                                                     "\nmode: " + mode + "\nmetrics_address: 127.0.0.1:0\naudit:\n  dir: " +
                                                     (dir_.path() / "audit").string() + "\n  key_file: " +
                                                     (dir_.path() / "node.key").string() + "\n");
    auto st = daemon_.start({KS_SENTRYD_BINARY, "--config", config.string()}, dir_.path() / "sentryd.log");
    ASSERT_TRUE(st) << st.error().describe();
    ASSERT_TRUE(daemon_.wait_for_log("serving on", 30s)) << read_text(daemon_.log());
  }

  void start_containerd() {
    cd_ = std::make_unique<PrivateContainerd>();
    PrivateContainerdOptions o;
    o.env = {{"PATH", path_with(KS_BIN_DIR)}, {"KATA_SENTRY_SHIM_CONFIG", (dir_.path() / "shim.yaml").string()}};
    o.import_images = {KS_BUSYBOX_OCI};
    auto st = cd_->start(o);
    ASSERT_TRUE(st) << st.error().describe();
  }

  CmdResult ctr(const std::vector<std::string>& args, std::chrono::seconds timeout = 180s) {
    return run(cd_->ctr(args), "", true, timeout);
  }

  // Alerts of `rule` (not the audit records, which name the rule they acted on).
  std::vector<nlohmann::json> alert_lines(const std::string& rule) {
    std::vector<nlohmann::json> out;
    std::istringstream lines(read_text(alerts()));
    for (std::string l; std::getline(lines, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && !j.value("audit", false) && j.value("rule", "") == rule) out.push_back(j);
    }
    return out;
  }

  // The daemon's /metrics (its config asks for port 0; the log says which it bound).
  std::string scrape_daemon() {
    static const std::regex re("metrics on http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    std::smatch m;
    std::string log = read_text(daemon_.log());
    if (!std::regex_search(log, m, re)) return "";
    auto r = http_get("127.0.0.1", uint16_t(std::stoi(m[1].str())), "/metrics", 10);
    return r && r->status == 200 ? r->body : "";
  }

  // The events of a `kata-trace events -o json` log (its own "kata-trace: " lines left out).
  static std::vector<nlohmann::json> trace_events(const fs::path& log) {
    std::vector<nlohmann::json> out;
    std::istringstream lines(read_text(log));
    for (std::string l; std::getline(lines, l);) {
      if (l.rfind("kata-trace: ", 0) == 0) continue;
      auto j = nlohmann::json::parse(l, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << l;
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  void expect_pod_gone(const std::string& sandbox_id) {
    for (int i = 0; i < 100 && !cd_->shim_processes().empty(); i++) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(cd_->shim_processes().empty()) << "shim left running";
    const std::string dir = "/run/kata-sentry/sandboxes/" + sandbox_id;
    EXPECT_TRUE(processes_with(dir + "/").empty()) << "VM processes left running";
    EXPECT_FALSE(fs::exists(dir)) << "sandbox dir left behind";
  }

  TempDir dir_{"ks-sentryd-e2e-"};
  Background daemon_;
  std::unique_ptr<PrivateContainerd> cd_;
};

TEST_F(SentrydE2e, AnAttackThroughCtrRunReachesTheDaemonsAlertsFileWithContainerdsId) {
  ASSERT_NO_FATAL_FAILURE(start_daemon("monitor"));
  ASSERT_NO_FATAL_FAILURE(start_containerd());
  auto r = ctr({"run", "--rm", "--privileged", "--runtime", kRuntime, kImage, "attack1", "sh", "-c", kCorePatternWrite});
  EXPECT_EQ(r.status, 0) << "monitor mode blocks nothing: " << r.out;
  auto lines = alert_lines("Guest core_pattern write");
  ASSERT_FALSE(lines.empty()) << read_text(alerts());
  const auto& a = lines.front();
  EXPECT_EQ(a["view"], "guest");
  EXPECT_EQ(a["sandbox"], "attack1");
  EXPECT_EQ(a["output_fields"]["container.id"], "attack1") << "the id containerd knows";
  EXPECT_EQ(a["enforced"], false);
  const std::string log = read_text(daemon_.log());
  EXPECT_NE(log.find("sandbox attack1 registered"), std::string::npos) << log;
  EXPECT_NE(log.find("sandbox attack1 unregistered"), std::string::npos) << "the shim unregisters when the pod ends: " << log;
  // The shim reported the pod's boot with its registration: one observation.
  const std::string metrics = scrape_daemon();
  EXPECT_NE(metrics.find("\nkata_sentry_sandbox_boot_seconds_count 1\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("\nkata_sentry_sandbox_boot_seconds_sum 0\n"), std::string::npos) << metrics;
  expect_pod_gone("attack1");
}

TEST_F(SentrydE2e, EnforceModeBlocksTheAttackInsideTheGuest) {
  ASSERT_NO_FATAL_FAILURE(start_daemon("enforce"));
  ASSERT_NO_FATAL_FAILURE(start_containerd());
  auto r = ctr({"run", "--rm", "--privileged", "--runtime", kRuntime, kImage, "attack2", "sh", "-c", kCorePatternWrite});
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  // One operation, one alert: the write rule, which is also the deny rule that refused it.
  auto denied = alert_lines("Guest core_pattern write");
  ASSERT_EQ(denied.size(), 1u) << read_text(alerts());
  EXPECT_EQ(denied.front()["enforced"], true);
  EXPECT_EQ(denied.front()["output_fields"]["container.id"], "attack2");
  EXPECT_FALSE(denied.front().contains("also_matched")) << denied.front().dump();
  EXPECT_NE(read_text(alerts()).find("denied in-kernel by guest LSM"), std::string::npos) << read_text(alerts());
  // The daemon also put the host deny programs on the pod's host cgroup, which the shim registered.
  EXPECT_NE(read_text(alerts()).find("deny rule(s) in host cgroup programs"), std::string::npos) << read_text(alerts());
  expect_pod_gone("attack2");
}

TEST_F(SentrydE2e, WithTheDaemonKilledAFailClosedRuntimeRefusesNewPodsBeforeBooting) {
  ASSERT_NO_FATAL_FAILURE(start_daemon("monitor"));
  ASSERT_NO_FATAL_FAILURE(start_containerd());
  ::kill(daemon_.pid(), SIGKILL);  // no clean shutdown: the socket file stays, nobody answers
  daemon_.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto r = ctr({"run", "--rm", "--runtime", kRuntime, kImage, "refused1", "echo", "should not run"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("should not run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kata-sentryd is not reachable at " + socket().string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fail-closed"), std::string::npos) << r.out;
  EXPECT_LT(took, 20s) << "refused before a VM boots";
  expect_pod_gone("refused1");
  auto tasks = ctr({"task", "ls", "-q"}, 30s);
  EXPECT_EQ(tasks.out, "") << "no task left";
}

// An upgrade of kata-sentryd must not leave running pods unwatched: the shim registers the
// sandbox again when the daemon is back, and an attack after that is seen.
TEST_F(SentrydE2e, ARunningPodIsWatchedAgainAfterTheDaemonRestarts) {
  ASSERT_NO_FATAL_FAILURE(start_daemon("monitor"));
  ASSERT_NO_FATAL_FAILURE(start_containerd());
  auto started = ctr({"run", "-d", "--privileged", "--runtime", kRuntime, kImage, "long1", "sleep", "300"});
  ASSERT_EQ(started.status, 0) << started.out;
  // A kata-trace that follows the guest's cat across the restart (no cat runs before it).
  Background trace;
  ASSERT_TRUE(trace.start({KS_TRACE_BINARY, "--socket", socket().string(), "events", "-f", "--reconnect", "--filter", "proc.name = cat",
                           "-o", "json"},
                          dir_.path() / "trace-reconnect.log"));
  ASSERT_TRUE(trace.wait_for_log("kata-trace: following events", 30s)) << read_text(trace.log());
  daemon_.stop();  // SIGTERM: a restart
  ASSERT_TRUE(trace.wait_for_log("reconnecting", 30s)) << read_text(trace.log());
  ASSERT_NO_FATAL_FAILURE(start_daemon("monitor"));
  // The restarted daemon (a fresh log) sees the shim register the running sandbox again.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(daemon_.wait_for_log("sandbox long1: monitoring", 60s)) << read_text(daemon_.log());
  std::cerr << "watched again " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms after the restart\n";
  auto attack = ctr({"task", "exec", "--exec-id", "x1", "long1", "sh", "-c", kCorePatternWrite});
  EXPECT_EQ(attack.status, 0) << attack.out;
  for (int i = 0; i < 100 && alert_lines("Guest core_pattern write").empty(); i++) std::this_thread::sleep_for(100ms);
  auto lines = alert_lines("Guest core_pattern write");
  ASSERT_FALSE(lines.empty()) << read_text(alerts());
  EXPECT_EQ(lines.front()["output_fields"]["container.id"], "long1");

  // The same kata-trace, subscribed again to the new daemon, shows the guest's cat.
  ASSERT_TRUE(wait_for_count(trace.log(), "kata-trace: following events", 2, 30s)) << read_text(trace.log());
  auto cat = ctr({"task", "exec", "--exec-id", "c2", "long1", "cat", "/proc/version"});
  EXPECT_EQ(cat.status, 0) << cat.out;
  ASSERT_TRUE(trace.wait_for_log("\"proc.name\":\"cat\"", 60s)) << read_text(trace.log());
  EXPECT_EQ(trace.stop(), 0) << read_text(trace.log());
  auto shown = trace_events(trace.log());
  EXPECT_FALSE(shown.empty());
  for (const auto& j : shown) {
    EXPECT_EQ(j["proc.name"], "cat") << j;
    EXPECT_EQ(j["sandbox.id"], "long1") << j;
  }

  EXPECT_EQ(ctr({"task", "kill", "-s", "SIGKILL", "long1"}).status, 0);
  for (int i = 0; i < 100 && cd_->task_states()["long1"] != "STOPPED"; i++) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(ctr({"task", "rm", "long1"}).status, 0);
  EXPECT_EQ(ctr({"container", "rm", "long1"}).status, 0);
  expect_pod_gone("long1");
}


// kata-trace against a real pod: containerd, the shim, a QEMU guest and kata-sentryd.
TEST_F(SentrydE2e, KataTraceFollowsTheGuestsCatWithContainerdsIdAndListsThePodUntilItGoes) {
  ASSERT_NO_FATAL_FAILURE(start_daemon("monitor"));
  ASSERT_NO_FATAL_FAILURE(start_containerd());
  // The container's init is a shell (it waits for its sleep, so it stays the sleep's parent).
  auto started = ctr({"run", "-d", "--privileged", "--runtime", kRuntime, kImage, "trace1", "sh", "-c", "sleep 300; exit 0"});
  ASSERT_EQ(started.status, 0) << started.out;
  ASSERT_TRUE(daemon_.wait_for_log("sandbox trace1: monitoring", 120s)) << read_text(daemon_.log());

  auto sandboxes = run({KS_TRACE_BINARY, "--socket", socket().string(), "sandboxes", "--no-rate"});
  ASSERT_EQ(sandboxes.status, 0) << sandboxes.out;
  EXPECT_NE(sandboxes.out.find("trace1"), std::string::npos) << sandboxes.out;

  Background trace;
  ASSERT_TRUE(trace.start({KS_TRACE_BINARY, "--socket", socket().string(), "events", "-f", "--filter", "proc.name = cat", "-o", "json"},
                          dir_.path() / "trace.log"));
  ASSERT_TRUE(trace.wait_for_log("kata-trace: following events", 30s)) << read_text(trace.log());
  auto cat = ctr({"task", "exec", "--exec-id", "c1", "trace1", "cat", "/proc/version"});
  EXPECT_EQ(cat.status, 0) << cat.out;
  ASSERT_TRUE(trace.wait_for_log("\"proc.name\":\"cat\"", 60s)) << read_text(trace.log());
  EXPECT_EQ(trace.stop(), 0) << read_text(trace.log());

  // Every event shown is the guest's cat (server-side filter), with containerd's id.
  auto events = trace_events(trace.log());
  EXPECT_GE(events.size(), 1u);
  for (const auto& j : events) {
    EXPECT_EQ(j["proc.name"], "cat") << j;
    EXPECT_EQ(j["view"], "guest") << j;
    EXPECT_EQ(j["container.id"], "trace1") << j;
    EXPECT_EQ(j["sandbox.id"], "trace1") << j;
  }

  // The pod's processes across the boundary: QEMU (and virtiofsd) under the shim on the host, the
  // container's shell under the guest's agent (and its sleep under the shell).
  auto tree = run({KS_TRACE_BINARY, "--socket", socket().string(), "tree", "trace1"});
  ASSERT_EQ(tree.status, 0) << tree.out;
  std::cerr << "--- kata-trace tree trace1 ---\n" << tree.out;
  auto host = tree_section(tree.out, "host");
  auto guest = tree_section(tree.out, "guest");
  EXPECT_TRUE(listed_under(host, "] shim", "] vmm")) << tree.out;
  EXPECT_TRUE(listed_under(host, "] shim", "] virtiofsd")) << tree.out;
  bool qemu = false;
  for (const auto& l : host) qemu |= l.find("] vmm") != std::string::npos && l.find("qemu-system") != std::string::npos;
  EXPECT_TRUE(qemu) << tree.out;
  EXPECT_TRUE(listed_under(guest, "] agent", "sh[")) << tree.out;
  // busybox's sh runs its applets through /proc/self/exe, so the sleep's comm is "exe": its
  // argument names it.
  EXPECT_TRUE(listed_under(guest, "] init container=trace1", "container=trace1  300")) << tree.out;
  bool shell_is_init = false;
  for (const auto& l : guest) shell_is_init |= l.find("sh[") != std::string::npos && l.find("init container=trace1") != std::string::npos;
  EXPECT_TRUE(shell_is_init) << tree.out;

  EXPECT_EQ(ctr({"task", "kill", "-s", "SIGKILL", "trace1"}).status, 0);
  for (int i = 0; i < 100 && cd_->task_states()["trace1"] != "STOPPED"; i++) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(ctr({"task", "rm", "trace1"}).status, 0);
  EXPECT_EQ(ctr({"container", "rm", "trace1"}).status, 0);
  expect_pod_gone("trace1");
  auto after = run({KS_TRACE_BINARY, "--socket", socket().string(), "sandboxes", "--no-rate"});
  ASSERT_EQ(after.status, 0) << after.out;
  EXPECT_EQ(after.out.find("trace1"), std::string::npos) << after.out;
}

}  // namespace
}  // namespace kata_sentry
