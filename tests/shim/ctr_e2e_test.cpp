// kata-sentry as containerd 1.6 users meet it: the runtime named `io.containerd.kata-sentry.v2`
// and found on containerd's PATH (build tree and `make install` layout), two containers of one
// pod alive in one VM with `ctr task ls` right throughout, and runc as the reference for what a
// command prints and how it exits. Private containerd per test (tests/support), CRI disabled.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/private_containerd.h"

namespace kata_sentry::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kRuntime = "io.containerd.kata-sentry.v2";
constexpr const char* kImage = "docker.io/kata-sentry/busybox:latest";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class CtrE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (containerd, mounts, QEMU)";
    if (run({"containerd", "--version"}).status != 0) GTEST_SKIP() << "containerd is not installed (scripts/setup.sh)";
    ASSERT_FALSE(config_.path().empty());
    // Fail-open lets these tests run without a daemon (sentryd_e2e_test covers fail-closed).
    shim_config_ = config_.write("shim.yaml", "daemon_policy: fail-open\n");
  }
  void TearDown() override {
    if (HasFailure() && cd_) std::cerr << "--- containerd.log (tail) ---\n" << cd_->log_tail() << "\n";
  }

  // A private containerd whose PATH starts with `bin_dir`, so `--runtime io.containerd.kata-sentry.v2`
  // resolves to <bin_dir>/containerd-shim-kata-sentry-v2 as it would on a node.
  void start_containerd(const fs::path& bin_dir) {
    cd_ = std::make_unique<PrivateContainerd>();
    PrivateContainerdOptions o;
    o.env = {{"PATH", path_with(bin_dir)}, {"KATA_SENTRY_SHIM_CONFIG", shim_config_.string()}};
    o.import_images = {KS_BUSYBOX_OCI};
    auto st = cd_->start(o);
    ASSERT_TRUE(st) << st.error().describe();
  }
  CmdResult ctr(const std::vector<std::string>& args, std::chrono::seconds timeout = 180s) {
    return run(cd_->ctr(args), "", true, timeout);
  }
  // Polls `ctr task ls` until `want` holds; returns the last listing for the failure message.
  std::map<std::string, std::string> wait_states(const std::function<bool(std::map<std::string, std::string>&)>& want,
                                                 std::chrono::seconds timeout = 30s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    auto states = cd_->task_states();
    while (!want(states) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(200ms);
      states = cd_->task_states();
    }
    return states;
  }
  static std::string describe(const std::map<std::string, std::string>& states) {
    std::string s;
    for (const auto& [id, st] : states) s += id + "=" + st + " ";
    return "[" + s + "]";
  }
  // Nothing of the pod may outlive it: shim, QEMU/virtiofsd, the sandbox directory, its mounts.
  void expect_pod_gone(const std::string& sandbox_id) {
    for (int i = 0; i < 100 && !cd_->shim_processes().empty(); i++) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(cd_->shim_processes().empty()) << "shim left running";
    const std::string dir = "/run/kata-sentry/sandboxes/" + sandbox_id;
    for (int i = 0; i < 100 && fs::exists(dir); i++) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(processes_with(dir + "/").empty()) << "VM processes left running";
    EXPECT_FALSE(fs::exists(dir)) << "sandbox dir left behind";
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(dir), std::string::npos) << "mounts left";
    auto tasks = ctr({"task", "ls", "-q"}, 30s);
    EXPECT_EQ(tasks.status, 0);
    EXPECT_EQ(tasks.out, "") << "tasks left";
  }

  TempDir config_{"ks-ctr-e2e-"};
  fs::path shim_config_;
  std::unique_ptr<PrivateContainerd> cd_;
};

// The acceptance command: the runtime by name, no absolute shim path; the kernel that answers is
// the guest's (Debian cloud kernel from build/guest-kernel), not the host's.
TEST_F(CtrE2e, RuntimeByNameOnContainerdsPathRunsInTheGuestKernel) {
  ASSERT_NO_FATAL_FAILURE(start_containerd(KS_BIN_DIR));
  const std::string release = trim(read_text(KS_GUEST_RELEASE_FILE));
  ASSERT_TRUE(release.ends_with("-cloud-amd64")) << release;
  auto r = ctr({"run", "--rm", "--runtime", kRuntime, kImage, "t1", "uname", "-r"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, release + "\n");
  EXPECT_NE(trim(run({"uname", "-r"}).out), release) << "the host runs the guest kernel? the test proves nothing";
  expect_pod_gone("t1");
}

// `make install` into a scratch prefix: the installed shim, found on PATH, locates the installed
// guest image (<prefix>/share/kata-sentry/guest) with no build tree and no environment.
TEST_F(CtrE2e, InstalledShimFindsItsGuestImage) {
  TempDir prefix("ks-prefix-");
  auto installed = run({"cmake", "--install", KS_BUILD_DIR, "--prefix", prefix.path().string()}, "", true, 120s);
  ASSERT_EQ(installed.status, 0) << installed.out;
  for (const char* f : {"bin/containerd-shim-kata-sentry-v2", "bin/kata-sentry", "share/kata-sentry/guest/vmlinuz",
                        "share/kata-sentry/guest/initrd.img", "share/kata-sentry/rules/kata_sentry_rules.yaml"})
    EXPECT_TRUE(fs::exists(prefix.path() / f)) << f << " not installed";
  ASSERT_FALSE(fs::exists(prefix.path() / "guest")) << "the old <prefix>/guest layout must not be what makes this pass";
  ASSERT_NO_FATAL_FAILURE(start_containerd(prefix.path() / "bin"));
  auto r = ctr({"run", "--rm", "--runtime", kRuntime, kImage, "i1", "sh", "-c", "echo installed; exit 2"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out, "installed\n");
  expect_pod_gone("i1");
}

// Two containers of one pod, as the CRI plugin makes them (a sandbox container, then a container
// naming it), both running at once in one VM; each exits with its own status and `ctr task ls`
// shows RUNNING then STOPPED for each.
TEST_F(CtrE2e, TwoContainersOfOnePodRunConcurrentlyInOneVm) {
  ASSERT_NO_FATAL_FAILURE(start_containerd(KS_BIN_DIR));
  // The sandbox exits 7 on SIGTERM; the container exits 4 once /tmp/go exists in its rootfs.
  auto sb = ctr({"run", "-d", "--runtime", kRuntime, "--annotation", "io.kubernetes.cri.container-type=sandbox",
                 "--annotation", "io.kubernetes.cri.sandbox-id=pod1", kImage, "pod1", "sh", "-c",
                 "trap 'kill $!; exit 7' TERM; sleep 1000 & wait"});
  ASSERT_EQ(sb.status, 0) << sb.out;
  auto c1 = ctr({"run", "-d", "--runtime", kRuntime, "--annotation", "io.kubernetes.cri.container-type=container",
                 "--annotation", "io.kubernetes.cri.sandbox-id=pod1", kImage, "c1", "sh", "-c",
                 "while [ ! -e /tmp/go ]; do sleep 0.2; done; exit 4"});
  ASSERT_EQ(c1.status, 0) << c1.out;

  auto states = cd_->task_states();
  EXPECT_EQ(states["pod1"], "RUNNING") << describe(states);
  EXPECT_EQ(states["c1"], "RUNNING") << describe(states);
  EXPECT_EQ(cd_->shim_processes().size(), 1u) << "one shim per pod";
  auto qemus = processes_with("/run/kata-sentry/sandboxes/pod1/");
  EXPECT_FALSE(qemus.empty()) << "the pod's VM is named after its sandbox container";
  EXPECT_TRUE(processes_with("/run/kata-sentry/sandboxes/c1/").empty()) << "c1 booted a VM of its own";

  // Both are live: each answers an exec, in its own container (different root filesystems).
  auto e1 = ctr({"task", "exec", "--exec-id", "x1", "pod1", "sh", "-c", "echo sandbox > /tmp/who; cat /tmp/who"}, 60s);
  EXPECT_EQ(e1.status, 0) << e1.out;
  EXPECT_EQ(e1.out, "sandbox\n");
  auto e2 = ctr({"task", "exec", "--exec-id", "x2", "c1", "sh", "-c", "cat /tmp/who 2>/dev/null || echo none"}, 60s);
  EXPECT_EQ(e2.status, 0) << e2.out;
  EXPECT_EQ(e2.out, "none\n") << "c1 sees the sandbox container's files";

  // c1 ends; the pod (and its VM) goes on.
  auto go = ctr({"task", "exec", "--exec-id", "x3", "c1", "touch", "/tmp/go"}, 60s);
  EXPECT_EQ(go.status, 0) << go.out;
  states = wait_states([](auto& s) { return s["c1"] == "STOPPED"; });
  EXPECT_EQ(states["c1"], "STOPPED") << describe(states);
  EXPECT_EQ(states["pod1"], "RUNNING") << describe(states);
  auto rm1 = ctr({"task", "rm", "c1"}, 60s);
  EXPECT_EQ(rm1.status, 0) << rm1.out;
  EXPECT_NE(rm1.out.find("non-zero exit code 4"), std::string::npos) << rm1.out;
  EXPECT_EQ(ctr({"container", "rm", "c1"}, 60s).status, 0);
  EXPECT_EQ(processes_with("/run/kata-sentry/sandboxes/pod1/"), qemus) << "the VM must outlive a container of the pod";
  auto still = ctr({"task", "exec", "--exec-id", "x4", "pod1", "cat", "/tmp/who"}, 60s);
  EXPECT_EQ(still.out, "sandbox\n");

  // The sandbox ends last, with its own status.
  EXPECT_EQ(ctr({"task", "kill", "-s", "SIGTERM", "pod1"}, 30s).status, 0);
  states = wait_states([](auto& s) { return s["pod1"] == "STOPPED"; });
  EXPECT_EQ(states["pod1"], "STOPPED") << describe(states);
  auto rm0 = ctr({"task", "rm", "pod1"}, 60s);
  EXPECT_EQ(rm0.status, 0) << rm0.out;
  EXPECT_NE(rm0.out.find("non-zero exit code 7"), std::string::npos) << rm0.out;
  EXPECT_EQ(ctr({"container", "rm", "pod1"}, 60s).status, 0);
  expect_pod_gone("pod1");
}

// The CRI plugin (what kubelet talks to) accepts deploy/containerd/kata-sentry.toml appended to a
// config, alone or after CRI settings of its own like Debian's, and keeps runc as the default.
// (Running a pod through CRI needs a CRI client and CNI, which Debian 12 does not ship.)
TEST_F(CtrE2e, CriPluginLoadsTheDeploySnippet) {
  std::stringstream snippet;
  snippet << std::ifstream(KS_SOURCE_DIR "/deploy/containerd/kata-sentry.toml").rdbuf();
  ASSERT_FALSE(snippet.str().empty());
  const std::string debian_like =
      "[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
      "      bin_dir = \"/usr/lib/cni\"\n      conf_dir = \"/etc/cni/net.d\"\n";
  for (const std::string& before : {std::string(), debian_like}) {
    SCOPED_TRACE(before.empty() ? "snippet alone" : "after Debian-like CRI settings");
    PrivateContainerd cd;
    PrivateContainerdOptions o;
    o.cri = true;
    o.extra_config = before + snippet.str();
    auto st = cd.start(o);
    ASSERT_TRUE(st) << st.error().describe();
    auto plugins = run(cd.ctr({"plugins", "ls"}));
    ASSERT_EQ(plugins.status, 0) << plugins.out;
    std::string cri_line;
    std::istringstream lines(plugins.out);
    for (std::string l; std::getline(lines, l);)
      if (l.starts_with("io.containerd.grpc.v1 ") && l.find(" cri ") != std::string::npos) cri_line = l;
    EXPECT_NE(cri_line.find(" ok"), std::string::npos) << plugins.out << cd.log_tail();
    // The CRI plugin logs the configuration it runs with.
    std::string log;
    for (int i = 0; i < 50 && (log = read_text(cd.log())).find("Start cri plugin") == std::string::npos; i++)
      std::this_thread::sleep_for(100ms);
    EXPECT_NE(log.find("kata-sentry:{Type:io.containerd.kata-sentry.v2 "), std::string::npos) << cd.log_tail();
    EXPECT_NE(log.find("runc:{Type:io.containerd.runc.v2 "), std::string::npos);
    EXPECT_NE(log.find("DefaultRuntimeName:runc "), std::string::npos);
    if (!before.empty()) {
      EXPECT_NE(log.find("NetworkPluginBinDir:/usr/lib/cni "), std::string::npos) << "the file's own CRI settings were lost";
    }
  }
}

// runc is the reference: the same image and command print the same and exit the same.
TEST_F(CtrE2e, StdoutAndStatusMatchRunc) {
  ASSERT_NO_FATAL_FAILURE(start_containerd(KS_BIN_DIR));
  // What a container sees of itself and its image, then a status of its own.
  const std::vector<std::string> script = {
      "sh", "-c", "pwd; id; echo \"$PATH\"; ls /; cat /etc/passwd | head -1; echo a b  c; printf 'no newline'; exit 42"};
  std::vector<std::string> kata = {"run", "--rm", "--runtime", kRuntime, kImage, "k1"};
  std::vector<std::string> runc = {"run", "--rm", kImage, "r1"};
  kata.insert(kata.end(), script.begin(), script.end());
  runc.insert(runc.end(), script.begin(), script.end());
  auto ref = ctr(runc, 60s);
  ASSERT_EQ(ref.status, 42) << ref.out;
  for (const char* line : {"/\n", "uid=0(root)", "/usr/bin:", "a b c\n", "no newline"})
    ASSERT_NE(ref.out.find(line), std::string::npos) << "runc's reference lacks [" << line << "]: " << ref.out;
  auto r = ctr(kata);
  EXPECT_EQ(r.status, ref.status) << r.out;
  EXPECT_EQ(r.out, ref.out);
  expect_pod_gone("k1");

  // A command that is not found: the same 127 and message shape as runc (busybox sh).
  auto ref2 = ctr({"run", "--rm", kImage, "r2", "sh", "-c", "no-such-command"}, 60s);
  auto r2 = ctr({"run", "--rm", "--runtime", kRuntime, kImage, "k2", "sh", "-c", "no-such-command"});
  EXPECT_EQ(ref2.status, 127) << ref2.out;
  EXPECT_EQ(r2.status, ref2.status) << r2.out;
  EXPECT_EQ(r2.out, ref2.out);
  expect_pod_gone("k2");
}

}  // namespace
}  // namespace kata_sentry::test_support
