// kata-sentryd's and the shim's config files: defaults, every key, and errors that name the
// file, line, column and key, with nothing applied from a file that has an error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/strict_yaml.h"
#include "sentryd/daemon_config.h"
#include "runtime/shim/shim_config.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ks-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unsetenv(shim::kShimConfigEnv);
    fs::remove_all(dir_);
  }
  std::string write(const std::string& text) {
    fs::path p = dir_ / "config.yaml";
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ConfigFile, EveryDaemonKeyIsRead) {
  auto c = daemon::load_daemon_config(write(R"(socket: /tmp/x/s.sock
alerts_file: /tmp/x/a.jsonl
rules: [/a.yaml, /b]
mode: enforce
host_probes: false
guest_events_per_second: 500
guest_burst: 1000
heartbeat_timeout_ms: 5000
log_level: debug
)"));
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->socket, "/tmp/x/s.sock");
  EXPECT_EQ(c->alerts_file, "/tmp/x/a.jsonl");
  EXPECT_EQ(c->rules, (std::vector<std::string>{"/a.yaml", "/b"}));
  EXPECT_EQ(c->mode, policy::Mode::enforce);
  EXPECT_FALSE(c->host_probes);
  EXPECT_EQ(c->guest_events_per_second, 500);
  EXPECT_EQ(c->guest_burst, 1000);
  EXPECT_EQ(c->heartbeat_timeout_ms, 5000u);
  EXPECT_EQ(c->log_level, "debug");
}

TEST_F(ConfigFile, AnEmptyFileMeansTheDefaults) {
  auto c = daemon::load_daemon_config(write(""));
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->socket, daemon::kDefaultSocketPath);
  EXPECT_EQ(c->mode, policy::Mode::monitor);
  EXPECT_TRUE(c->host_probes);
}

TEST_F(ConfigFile, AnUnknownKeyIsAnErrorNamingFileLineAndKey) {
  std::string path = write("mode: enforce\nsockett: /tmp/s\n");
  auto c = daemon::load_daemon_config(path);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(path + ":2:1: unknown key 'sockett'"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("known keys: socket, alerts_file"), std::string::npos) << c.error().message;
}

TEST_F(ConfigFile, BadValuesNameTheKeyAndWhatIsAllowed) {
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"mode: enforcing\n", ":1:7: 'mode' must be one of monitor, enforce (got 'enforcing')"},
      {"host_probes: yes\n", "'host_probes' must be true or false (got 'yes')"},
      {"heartbeat_timeout_ms: 10\n", "'heartbeat_timeout_ms' must be a whole number from 1000 to 600000 (got '10')"},
      {"guest_burst: lots\n", "'guest_burst' must be a number"},
      {"socket: [a, b]\n", "'socket' must be a single value"},
      {"socket: relative.sock\n", "'socket' must be an absolute path"},
      {"mode: monitor\nmode: enforce\n", ":2:1: key 'mode' is given twice"},
      {"- a\n- b\n", "the top level must be a mapping"},
      {"mode: [unclosed\n", "not valid YAML"},
  };
  for (const auto& c : cases) {
    auto r = daemon::load_daemon_config(write(c.text));
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << c.text << " -> " << r.error().message;
  }
}

TEST_F(ConfigFile, NothingIsAppliedFromAFileWithAnError) {
  std::string socket = "/default";
  bool probes = true;
  config::StrictYaml y;
  y.string("socket", &socket);
  y.boolean("probes", &probes);
  ASSERT_FALSE(y.load_text("socket: /changed\nprobes: maybe\n", "t.yaml"));
  EXPECT_EQ(socket, "/default");
  EXPECT_TRUE(probes);
}

TEST_F(ConfigFile, AnExplicitPathMustExist) {
  auto c = daemon::load_daemon_config((dir_ / "missing.yaml").string());
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("missing.yaml"), std::string::npos);
}

TEST_F(ConfigFile, ShimConfigComesFromTheEnvironmentAndDefaultsToFailClosed) {
  ::setenv(shim::kShimConfigEnv, write("daemon_socket: /tmp/d.sock\n").c_str(), 1);
  auto c = shim::load_shim_config();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->daemon_socket, "/tmp/d.sock");
  EXPECT_TRUE(c->fail_closed);

  ::setenv(shim::kShimConfigEnv, write("daemon_policy: fail-open\n").c_str(), 1);
  c = shim::load_shim_config();
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_FALSE(c->fail_closed);

  ::setenv(shim::kShimConfigEnv, write("daemon_policy: open\n").c_str(), 1);
  c = shim::load_shim_config();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("'daemon_policy' must be one of fail-closed, fail-open"), std::string::npos);

  ::setenv(shim::kShimConfigEnv, (dir_ / "nope.yaml").c_str(), 1);
  EXPECT_FALSE(shim::load_shim_config()) << "a file named by the environment must exist";
}

}  // namespace
}  // namespace kata_sentry
