// deploy/ is shipped to operators, so it is tested like code: every YAML file parses, the
// Kubernetes objects say what the runtime needs (handler, overhead, privileges, host paths), the
// configs use only keys the daemon and shim know and carry the hardened values, containerd reads
// the snippet as a runtime of type io.containerd.kata-sentry.v2, and systemd accepts the unit.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sentryd/daemon_config.h"
#include "runtime/shim/shim_config.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::test_support {
namespace {

namespace daemon = kata_sentry::daemon;
namespace shim = kata_sentry::shim;
namespace policy = kata_sentry::policy;

namespace fs = std::filesystem;
const fs::path kDeploy = KS_SOURCE_DIR "/deploy";

std::vector<YAML::Node> load_all(const fs::path& p) {
  std::vector<YAML::Node> docs;
  for (auto& d : YAML::LoadAllFromFile(p.string()))
    if (d && !d.IsNull()) docs.push_back(d);
  return docs;
}

YAML::Node find_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const auto& d : docs)
    if (d["kind"] && d["kind"].as<std::string>() == kind) return d;
  return YAML::Node();
}

TEST(DeployFiles, EveryYamlFileParses) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(kDeploy)) {
    if (e.path().extension() != ".yaml") continue;
    n++;
    EXPECT_NO_THROW({
      auto docs = load_all(e.path());
      EXPECT_FALSE(docs.empty()) << e.path();
    }) << e.path();
  }
  EXPECT_GE(n, 4u);
}

TEST(DeployFiles, RuntimeClassNamesTheContainerdHandlerAndChargesMeasuredOverhead) {
  auto rc = find_kind(load_all(kDeploy / "kubernetes/runtimeclass.yaml"), "RuntimeClass");
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc["apiVersion"].as<std::string>(), "node.k8s.io/v1");
  EXPECT_EQ(rc["metadata"]["name"].as<std::string>(), "kata-sentry");
  // The handler is the runtime's name in containerd's CRI config (deploy/containerd).
  EXPECT_EQ(rc["handler"].as<std::string>(), "kata-sentry");
  auto fixed = rc["overhead"]["podFixed"];
  ASSERT_TRUE(fixed["memory"]) << "a VM per pod costs memory the scheduler must know about";
  ASSERT_TRUE(fixed["cpu"]);
  EXPECT_TRUE(fixed["memory"].as<std::string>().ends_with("Mi")) << fixed["memory"].as<std::string>();
  // Scheduled only where the runtime and its daemon are installed (the DaemonSet's selector).
  auto ds = find_kind(load_all(kDeploy / "kubernetes/daemonset.yaml"), "DaemonSet");
  ASSERT_TRUE(ds);
  EXPECT_EQ(YAML::Dump(rc["scheduling"]["nodeSelector"]), YAML::Dump(ds["spec"]["template"]["spec"]["nodeSelector"]));
}

TEST(DeployFiles, DaemonSetIsPrivilegedWithTheHostPathsBpfNeeds) {
  auto ds = find_kind(load_all(kDeploy / "kubernetes/daemonset.yaml"), "DaemonSet");
  ASSERT_TRUE(ds);
  auto pod = ds["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["hostPID"].as<bool>()) << "host probes name QEMU and shims by host pid";
  ASSERT_EQ(pod["containers"].size(), 1u);
  auto c = pod["containers"][0];
  EXPECT_TRUE(c["securityContext"]["privileged"].as<bool>());
  std::set<std::string> volumes;
  std::map<std::string, std::string> host_paths;
  for (const auto& v : pod["volumes"]) {
    volumes.insert(v["name"].as<std::string>());
    if (v["hostPath"]) host_paths[v["name"].as<std::string>()] = v["hostPath"]["path"].as<std::string>();
  }
  std::set<std::string> mounted;
  for (const auto& m : c["volumeMounts"]) {
    const auto name = m["name"].as<std::string>();
    EXPECT_TRUE(volumes.contains(name)) << "mount of undeclared volume " << name;
    if (host_paths.contains(name)) {
      EXPECT_EQ(host_paths[name], m["mountPath"].as<std::string>()) << "host paths appear where the daemon expects them";
      mounted.insert(host_paths[name]);
    }
  }
  for (const char* p : {"/sys/fs/bpf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/run/kata-sentry", "/var/log/kata-sentry", "/var/lib/kata-sentry"})
    EXPECT_TRUE(mounted.contains(p)) << p << " not mounted";
}

// Read by the daemon's and the shim's own loaders: an unknown key or a bad value fails here
// exactly as it would on a node.
TEST(DeployFiles, SentrydAndShimConfigsLoadAndAreHardened) {
  auto daemon = daemon::load_daemon_config((kDeploy / "config/sentryd.yaml").string());
  ASSERT_TRUE(daemon) << daemon.error().describe();
  EXPECT_EQ(daemon->mode, policy::Mode::enforce);
  EXPECT_TRUE(daemon->host_probes);
  ::setenv(shim::kShimConfigEnv, (kDeploy / "config/shim.yaml").c_str(), 1);
  auto shim = shim::load_shim_config();
  ::unsetenv(shim::kShimConfigEnv);
  ASSERT_TRUE(shim) << shim.error().describe();
  EXPECT_TRUE(shim->fail_closed);
  EXPECT_EQ(shim->daemon_socket, daemon->socket) << "the shim must dial the socket the daemon serves";
}

TEST(DeployFiles, ContainerdReadsTheSnippetAsAKataSentryRuntime) {
  TempDir dir("ks-deploy-");
  std::stringstream snippet;
  snippet << std::ifstream(kDeploy / "containerd/kata-sentry.toml").rdbuf();
  auto cfg = dir.write("config.toml", "version = 2\n" + snippet.str());
  auto dump = run({"containerd", "--config", cfg.string(), "config", "dump"}, "", false, std::chrono::seconds(30));
  ASSERT_EQ(dump.status, 0) << "containerd rejected the snippet";
  auto at = dump.out.find("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-sentry]");
  ASSERT_NE(at, std::string::npos) << dump.out;
  auto section = dump.out.substr(at, dump.out.find("\n\n", at) - at);
  EXPECT_NE(section.find("runtime_type = \"io.containerd.kata-sentry.v2\""), std::string::npos) << section;
  EXPECT_NE(section.find("privileged_without_host_devices = true"), std::string::npos) << section;
  EXPECT_NE(section.find("pod_annotations = []"), std::string::npos) << section;
  // Naming a runtime replaces containerd's default map: runc must be declared too.
  auto runc = dump.out.find("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]");
  ASSERT_NE(runc, std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("runtime_type = \"io.containerd.runc.v2\"", runc), std::string::npos);
}

TEST(DeployFiles, SystemdUnitKeepsBpfPossibleAndVerifies) {
  std::stringstream ss;
  ss << std::ifstream(kDeploy / "systemd/kata-sentryd.service").rdbuf();
  const std::string unit = ss.str();
  EXPECT_NE(unit.find("ExecStart=/usr/local/bin/kata-sentryd --config /etc/kata-sentry/sentryd.yaml"), std::string::npos);
  EXPECT_NE(unit.find("Type=simple"), std::string::npos);
  for (const char* cap : {"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"}) EXPECT_NE(unit.find(cap), std::string::npos) << cap;
  EXPECT_NE(unit.find("SystemCallFilter=@system-service bpf perf_event_open"), std::string::npos);
  // Each of these would make /sys (bpffs, tracefs, cgroupfs) read-only or hide it.
  for (const char* bad : {"\nProtectKernelTunables=yes", "\nProtectControlGroups=yes", "\nPrivateDevices=yes",
                          "\nSecureBits=noroot", "\nRuntimeDirectoryPreserve=no"})
    EXPECT_EQ(unit.find(bad), std::string::npos) << bad;
  // systemd's own parser; ExecStart must name an existing file, so verify a copy pointing at /bin/true.
  TempDir dir("ks-unit-");
  std::string copy = unit;
  copy.replace(copy.find("/usr/local/bin/kata-sentryd"), std::string("/usr/local/bin/kata-sentryd").size(), "/bin/true");
  auto path = dir.write("kata-sentryd.service", copy);
  auto verify = run({"systemd-analyze", "verify", path.string()});
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_EQ(verify.out, "") << "systemd warns about the unit";
}

}  // namespace
}  // namespace kata_sentry::test_support
