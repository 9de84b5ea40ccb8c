// vm tier: boots the real guest image under QEMU (TCG here) and runs containers in it. One
// sandbox is booted for the whole SandboxVm suite (each TCG boot costs seconds), so the suite is
// registered as a single ctest entry; the last test kills QEMU from outside.
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/oci/oci_spec.h"
#include "runtime/sandbox/sandbox.h"
#include "tests/support/vm_sandbox.h"

namespace kata_sentry::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using Outcome = testing::ContainerOutcome;

bool process_alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

class SandboxVm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    boot_error_ = testing::boot_sandbox(sandbox_);
    if (!sandbox_) return;
    qemu_pid_ = sandbox_->vm().qemu_pid();
    virtiofsd_pid_ = sandbox_->vm().virtiofsd_pid();
    dir_ = sandbox_->dir();
  }
  static void TearDownTestSuite() {
    if (sandbox_) (void)sandbox_->destroy();
    sandbox_.reset();
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (QEMU, mounts)";
    ASSERT_TRUE(boot_error_.empty()) << boot_error_;
    ASSERT_TRUE(sandbox_) << "the sandbox was torn down by an earlier test";
  }

  static OciSpec spec(std::vector<std::string> args, bool privileged = false) {
    return default_oci_spec(std::move(args), privileged);
  }

  // Creates, starts and waits for a container; collects its output.
  static Outcome run(const std::string& id, const OciSpec& spec, const std::string& input = "",
                     bool feed_stdin = false) {
    return testing::run_container(*sandbox_, id, spec, {}, feed_stdin ? &input : nullptr);
  }

  static inline std::unique_ptr<Sandbox> sandbox_;
  static inline std::string boot_error_;
  static inline pid_t qemu_pid_ = -1, virtiofsd_pid_ = -1;
  static inline fs::path dir_;
};

TEST_F(SandboxVm, EchoHelloExitsZero) {
  auto o = run("echo", spec({"echo", "hello"}));
  EXPECT_EQ(o.out, "hello\n");
  EXPECT_EQ(o.code, 0);
}

TEST_F(SandboxVm, ExitStatusPropagates) {
  auto o = run("exit7", spec({"sh", "-c", "exit 7"}));
  EXPECT_EQ(o.code, 7);
}

TEST_F(SandboxVm, StdinIsPipedThrough) {
  auto o = run("stdin", spec({"sh", "-c", "tr a-z A-Z"}), "piped through\n", true);
  EXPECT_EQ(o.out, "PIPED THROUGH\n");
  EXPECT_EQ(o.code, 0);
}

TEST_F(SandboxVm, UnameShowsTheGuestKernel) {
  auto o = run("uname", spec({"uname", "-r"}));
  utsname host{};
  ::uname(&host);
  EXPECT_EQ(o.out, sandbox_->image().kernel_release + "\n");
  EXPECT_NE(o.out, std::string(host.release) + "\n");
}

TEST_F(SandboxVm, TwoContainersAndASignalToALongRunningProcess) {
  auto& agent = sandbox_->agent();
  // A long-running first container that exits 42 only when SIGTERM reaches it.
  auto long_running = spec({"sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done"});
  ASSERT_TRUE(sandbox_->create_container("long", long_running, "", false));
  ASSERT_TRUE(agent.start_container("long"));
  // A second container runs to completion while the first one is alive.
  auto o = run("second", spec({"echo", "second"}));
  EXPECT_EQ(o.out, "second\n");
  auto stats = agent.stats_container("long");
  ASSERT_TRUE(stats) << stats.error().describe();
  ASSERT_TRUE(agent.signal_process("long", "", SIGTERM));
  auto waited = agent.wait_process("long", "");
  ASSERT_TRUE(waited) << waited.error().describe();
  EXPECT_EQ(waited->shell_code(), 42);
  (void)agent.remove_container("long");
}

TEST_F(SandboxVm, ReadonlyRootfsRefusesWrites) {
  auto s = spec({"sh", "-c", "touch /written"});
  s.root.readonly = true;
  auto o = run("readonly", s);
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find("Read-only file system"), std::string::npos) << o.err;
}

TEST_F(SandboxVm, DroppedCapabilitiesShowInProcStatus) {
  auto plain = run("caps", spec({"grep", "CapEff", "/proc/self/status"}));
  auto privileged = run("capsp", spec({"grep", "CapEff", "/proc/self/status"}, true));
  ASSERT_EQ(plain.code, 0);
  ASSERT_EQ(privileged.code, 0);
  auto mask = [](const std::string& line) { return std::stoull(line.substr(line.find(':') + 1), nullptr, 16); };
  uint64_t plain_caps = mask(plain.out), privileged_caps = mask(privileged.out);
  constexpr uint64_t kSysAdmin = 1ULL << 21, kSysModule = 1ULL << 16;
  EXPECT_EQ(plain_caps & (kSysAdmin | kSysModule), 0u) << plain.out;
  EXPECT_EQ(privileged_caps & (kSysAdmin | kSysModule), kSysAdmin | kSysModule) << privileged.out;
}

TEST_F(SandboxVm, SeccompProfileDenyingASyscallGivesEperm) {
  auto s = spec({"sh", "-c", "mkdir /tmp/denied"});
  OciSeccomp profile;
  profile.default_action = "SCMP_ACT_ALLOW";
  OciSeccompSyscall deny;
  deny.names = {"mkdir", "mkdirat"};
  deny.action = "SCMP_ACT_ERRNO";
  profile.syscalls.push_back(deny);
  s.linux.seccomp = profile;
  auto o = run("seccomp", s);
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find("Operation not permitted"), std::string::npos) << o.err;
}

TEST_F(SandboxVm, CgroupMemoryLimitHolds) {
  // `tail /dev/zero` buffers a line that never ends: only the limit stops it (OOM kill).
  auto s = spec({"sh", "-c", "cat /sys/fs/cgroup/memory.max; exec tail /dev/zero"});
  s.linux.resources.memory_limit = 32 << 20;
  s.mounts.push_back({"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "ro"}});
  auto o = run("memlimit", s);
  EXPECT_EQ(o.out, std::to_string(32 << 20) + "\n") << o.err;
  EXPECT_EQ(o.code, 128 + SIGKILL);
}

// Must stay the last test of the suite: it takes the shared sandbox down.
TEST_F(SandboxVm, QemuKilledFromOutsideGivesAClearErrorAndLeavesNothing) {
  auto& agent = sandbox_->agent();
  ASSERT_TRUE(sandbox_->create_container("victim", spec({"sleep", "600"}), "", false));
  ASSERT_TRUE(agent.start_container("victim"));
  ASSERT_EQ(::kill(qemu_pid_, SIGKILL), 0);
  auto waited = agent.wait_process("victim", "");
  ASSERT_FALSE(waited);
  Error e = sandbox_->explain(waited.error());
  EXPECT_NE(e.message.find("the VM is gone"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("killed by signal 9"), std::string::npos) << e.message;
  (void)sandbox_->destroy();
  sandbox_.reset();
  EXPECT_FALSE(fs::exists(dir_));
  EXPECT_FALSE(process_alive(qemu_pid_));
  for (int i = 0; i < 50 && process_alive(virtiofsd_pid_); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(process_alive(virtiofsd_pid_));
}

// The CLI end to end: no VM may boot for a bad spec; a good run prints, exits and cleans up.
struct CliResult {
  int status = -1;
  std::string out;
  double seconds = 0;
};

// stdout only, unless with_stderr (the monitor embedded in `run` may report on stderr).
CliResult run_cli(const std::string& args, bool with_stderr = false) {
  auto t0 = std::chrono::steady_clock::now();
  CliResult r;
  FILE* p = ::popen((std::string(KS_CLI_PATH) + " run " + args + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

size_t sandbox_count() {
  std::error_code ec;
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/run/kata-sentry/sandboxes", ec)) ++n;
  return n;
}

TEST(RunCli, MalformedConfigJsonFailsBeforeAnyVmBoots) {
  auto dir = fs::temp_directory_path() / ("ks-badspec-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"ociVersion":"1.0.2","process":{"args":[],"cwd":"/"},"root":{"path":"rootfs"},
    "linux":{"namespaces":[{"type":"bogus"}]}})";
  auto r = run_cli("--spec " + (dir / "config.json").string(), true);
  fs::remove_all(dir);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("process.args"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linux.namespaces[0].type"), std::string::npos) << r.out;
  EXPECT_LT(r.seconds, 2.0) << "a VM was probably booted";
}

TEST(RunCli, EchoHelloEndToEndLeavesNothingBehind) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (QEMU, mounts)";
  size_t before = sandbox_count();
  auto r = run_cli("-- echo hello");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_LT(r.seconds, 60.0);
  EXPECT_EQ(sandbox_count(), before);
}

TEST(RunCli, OciImageTarballRunsWithItsConfig) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (QEMU, mounts)";
  auto tar = fs::temp_directory_path() / ("ks-image-" + std::to_string(::getpid()) + ".tar");
  ASSERT_EQ(std::system((std::string(KS_SOURCE_DIR) + "/scripts/mkimage-busybox.sh " + tar.string() + " >/dev/null").c_str()), 0);
  auto unpacked = [] {
    std::error_code ec;
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/run/kata-sentry/images", ec)) ++n;
    return n;
  };
  size_t before = unpacked();
  auto r = run_cli("--image " + tar.string() + " -- sh -c 'echo $PATH; exit 3'");
  fs::remove(tar);
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_EQ(r.out, "/usr/sbin:/usr/bin:/sbin:/bin\n");  // the image config's Env
  EXPECT_EQ(unpacked(), before) << "the unpacked image was left behind";
}

}  // namespace
}  // namespace kata_sentry::runtime
