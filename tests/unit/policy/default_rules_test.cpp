// kata-sentry's default rules (rules/): each fires once and stays quiet on a near miss.
#include <fcntl.h>
#include <sys/socket.h>

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

class DefaultRules : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = load_rules(sources_or_die({KS_DEFAULT_RULES_DIR}));
    ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
    EXPECT_EQ(r.diagnostics.warning_count(), 0u) << diagnostics_text(r);
    load_ = new LoadResult(std::move(r));
  }
  static void TearDownTestSuite() { delete load_; }
  void SetUp() override { engine_ = std::make_unique<Engine>(load_->rules, EngineConfig{}); }
  bool fires(const std::string& rule, const Event& e) { return has(fired(*engine_, e), rule); }

  static LoadResult* load_;
  std::unique_ptr<Engine> engine_;
};
LoadResult* DefaultRules::load_ = nullptr;

// A workload process in container c1 of sandbox sb1, seen by the guest probes.
EventBuilder guest() { return EventBuilder().guest().sandbox("sb1").container("c1").name("sh").exepath("/bin/sh").pid(300); }
EventBuilder agent() { return EventBuilder().guest().sandbox("sb1").name("kata-sentry-agent").pid(1).agent(); }
// The sandbox's VMM, seen by the host probes.
EventBuilder vmm() { return EventBuilder().host().sandbox("sb1").vmm(5000).pid(5000).name("qemu-system-x86_64"); }

TEST_F(DefaultRules, Loaded) {
  EXPECT_EQ(load_->rules.rules.size(), 23u);
  EXPECT_EQ(load_->rules.sequences.size(), 3u);
}

TEST_F(DefaultRules, ReleaseAgentWrite) {
  const char* r = "Guest cgroup release_agent write";
  EXPECT_TRUE(fires(r, guest().open("/sys/fs/cgroup/memory/x/release_agent", O_WRONLY)));
  EXPECT_TRUE(fires(r, guest().open("/sys/fs/cgroup/memory/x/notify_on_release", O_WRONLY, EventType::lsm_file_open).no_res()));
  EXPECT_FALSE(fires(r, guest().open("/sys/fs/cgroup/memory/x/release_agent", O_RDONLY)));
}

TEST_F(DefaultRules, CorePatternWrite) {
  const char* r = "Guest core_pattern write";
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY | O_TRUNC)));
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_RDONLY)));
}

TEST_F(DefaultRules, KernelSysctlOrSysrqWrite) {
  const char* r = "Guest kernel sysctl or sysrq write";
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/modprobe", O_WRONLY)));
  EXPECT_TRUE(fires(r, guest().open("/proc/sysrq-trigger", O_WRONLY)));
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY))) << "its own rule";
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/net/ipv4/ip_forward", O_WRONLY)));
}

TEST_F(DefaultRules, KernelModuleLoad) {
  const char* r = "Guest kernel module load";
  EXPECT_TRUE(fires(r, guest().type(EventType::finit_module).args({3, 0})));
  EXPECT_FALSE(fires(r, agent().type(EventType::finit_module).args({3, 0}))) << "the agent loads virtio modules";
}

TEST_F(DefaultRules, BpfByWorkload) {
  const char* r = "Guest bpf by workload";
  EXPECT_TRUE(fires(r, guest().type(EventType::bpf).args({5})));
  EXPECT_FALSE(fires(r, agent().type(EventType::bpf).args({5})));
}

TEST_F(DefaultRules, PtraceOfAgent) {
  const char* r = "Guest ptrace of the agent";
  EXPECT_TRUE(fires(r, guest().type(EventType::ptrace).args({16, 1})));
  EXPECT_FALSE(fires(r, guest().type(EventType::ptrace).args({16, 301})));
}

TEST_F(DefaultRules, RawMemoryDeviceAccessIsDeny) {
  const char* r = "Guest raw memory device access";
  EXPECT_TRUE(fires(r, guest().open("/dev/mem")));
  EXPECT_TRUE(fires(r, guest().open("/dev/port", O_RDWR)));
  EXPECT_FALSE(fires(r, guest().open("/dev/null")));
  auto specs = engine_->enforcement_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const EnforcementSpec& s) { return s.rule == r; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->exact_paths, (std::vector<std::string>{"/dev/mem", "/dev/kmem", "/dev/port"}));
  EXPECT_EQ(it->view, View::guest);
}

// The host network stage: a sandbox host process connecting out is denied by the host cgroup
// programs in enforce mode; the spec is what they can match (INET, connect + sendto).
TEST_F(DefaultRules, VmmInetConnectIsHostDeny) {
  const char* r = "Sandbox VMM INET connect denied";
  EXPECT_TRUE(fires(r, vmm().connect("10.0.0.1", 443)));
  EXPECT_TRUE(fires(r, vmm().connect("::1", 22, AF_INET6)));
  EXPECT_FALSE(fires(r, vmm().type(EventType::connect).path("/run/x.sock")));
  EXPECT_FALSE(fires(r, guest().connect("10.0.0.1", 443)));
  auto specs = engine_->enforcement_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const EnforcementSpec& s) { return s.rule == r; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->view, View::host);
  EXPECT_EQ(it->event_types, (std::vector<EventType>{EventType::connect, EventType::sendto}));
  EXPECT_EQ(it->socket_families, (std::vector<uint16_t>{AF_INET, AF_INET6}));
}

TEST_F(DefaultRules, VmmRawMemoryDeviceIsHostDeny) {
  const char* r = "Sandbox VMM raw memory device";
  EXPECT_TRUE(fires(r, vmm().open("/dev/mem", O_RDONLY)));
  EXPECT_FALSE(fires(r, vmm().open("/dev/null", O_RDONLY)));
  EXPECT_FALSE(fires(r, guest().open("/dev/mem", O_RDONLY)));
  auto specs = engine_->enforcement_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const EnforcementSpec& s) { return s.rule == r; });
  ASSERT_NE(it, specs.end());
  EXPECT_EQ(it->view, View::host);
  EXPECT_EQ(it->exact_paths, (std::vector<std::string>{"/dev/mem", "/dev/kmem", "/dev/port"}));
}

TEST_F(DefaultRules, CorePatternOpenDenied) {
  const char* r = "Guest core_pattern open denied";
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_RDONLY, EventType::lsm_file_open).no_res()));
  EXPECT_FALSE(fires(r, guest().container("").open("/proc/sys/kernel/core_pattern", O_RDONLY, EventType::lsm_file_open).no_res()))
      << "not from a container";
  auto specs = engine_->enforcement_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const EnforcementSpec& s) { return s.rule == r; });
  ASSERT_NE(it, specs.end());
  EXPECT_TRUE(it->any_container);
  EXPECT_EQ(it->exact_paths, std::vector<std::string>{"/proc/sys/kernel/core_pattern"});
}

TEST_F(DefaultRules, GuestReadOfSensitiveFileIsDeny) {
  const char* r = "Guest read of sensitive file";
  EXPECT_TRUE(fires(r, guest().open("/etc/shadow")));
  EXPECT_TRUE(fires(r, guest().open("/etc/gshadow", O_RDWR, EventType::lsm_file_open).no_res()));
  // Near misses: a file beside it, the agent (not a container), the host.
  EXPECT_FALSE(fires(r, guest().open("/etc/passwd")));
  EXPECT_FALSE(fires(r, guest().open("/etc/shadow.d/x")));
  EXPECT_FALSE(fires(r, guest().container("").open("/etc/shadow")));
  EXPECT_FALSE(fires(r, EventBuilder().host().container("c1").open("/etc/shadow")));
  auto specs = engine_->enforcement_specs();
  auto it = std::find_if(specs.begin(), specs.end(), [&](const EnforcementSpec& s) { return s.rule == r; });
  ASSERT_NE(it, specs.end()) << "must compile to an in-kernel deny spec";
  EXPECT_TRUE(it->any_container);
  EXPECT_EQ(it->view, View::guest);
  EXPECT_EQ(it->exact_paths, (std::vector<std::string>{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"}));
}

TEST_F(DefaultRules, BlockDeviceNode) {
  const char* r = "Guest block device node created";
  EXPECT_TRUE(fires(r, guest().type(EventType::mknodat).path("/tmp/sda").args({060660, 0x800})));
  EXPECT_FALSE(fires(r, guest().type(EventType::mknodat).path("/tmp/null").args({020666, 0x103})));
}

TEST_F(DefaultRules, MountBlockDeviceOrDebugfs) {
  const char* r = "Guest mount of block device or debugfs";
  EXPECT_TRUE(fires(r, guest().type(EventType::mount).path("/dev/vda").path2("/mnt").fstype("ext4").args({0})));
  EXPECT_TRUE(fires(r, guest().type(EventType::mount).path("none").path2("/d").fstype("debugfs").args({0})));
  EXPECT_FALSE(fires(r, guest().type(EventType::mount).path("tmpfs").path2("/tmp").fstype("tmpfs").args({0})));
}

TEST_F(DefaultRules, UserNamespaceUnshare) {
  const char* r = "Guest user namespace unshare";
  EXPECT_TRUE(fires(r, guest().type(EventType::unshare).args({0x10000000})));
  EXPECT_FALSE(fires(r, guest().type(EventType::unshare).args({0x00020000}))) << "mount ns only";
}

TEST_F(DefaultRules, SetnsByWorkload) {
  const char* r = "Guest setns by workload";
  EXPECT_TRUE(fires(r, guest().type(EventType::setns).args({5, 0x20000000})));
  EXPECT_FALSE(fires(r, agent().type(EventType::setns).args({5, 0x20000000})));
}

TEST_F(DefaultRules, ExecFromMemfdOrShm) {
  const char* r = "Guest exec from memfd or /dev/shm";
  EXPECT_TRUE(fires(r, guest().exec("memfd:x").parent("sh")));
  EXPECT_TRUE(fires(r, guest().exec("/dev/shm/payload")));
  EXPECT_FALSE(fires(r, guest().exec("/usr/bin/id")));
}

TEST_F(DefaultRules, ConnectToVsockOrAgentChannel) {
  const char* r = "Guest connect to vsock or the agent channel";
  EXPECT_TRUE(fires(r, guest().type(EventType::connect).args({3}).vsock(2, 1024)));
  EXPECT_TRUE(fires(r, guest().open("/dev/vport0p1", O_RDWR)));
  EXPECT_FALSE(fires(r, agent().type(EventType::connect).args({3}).vsock(2, 1024)));
  EXPECT_FALSE(fires(r, guest().connect("10.0.0.1", 80)));
}

TEST_F(DefaultRules, WriteToAgentBinary) {
  const char* r = "Guest write to the agent binary";
  EXPECT_TRUE(fires(r, guest().open("/sbin/kata-sentry-agent", O_WRONLY | O_TRUNC)));
  EXPECT_TRUE(fires(r, guest().type(EventType::renameat).path("/tmp/evil").path2("/sbin/kata-sentry-agent").args({0})));
  EXPECT_FALSE(fires(r, guest().open("/sbin/kata-sentry-agent", O_RDONLY)));
}

TEST_F(DefaultRules, VmmExecve) {
  const char* r = "Sandbox VMM execve";
  EXPECT_TRUE(fires(r, vmm().exec("/bin/sh").parent("qemu-system-x86_64")));
  EXPECT_FALSE(fires(r, EventBuilder().host().sandbox("sb1").exec("/usr/bin/qemu-system-x86_64").vmm(5000)
                             .parent("containerd-shim-kata-sentry-v2"))) << "the shim starting QEMU";
  EXPECT_FALSE(fires(r, EventBuilder().host().exec("/bin/sh").parent("bash"))) << "not a sandbox process";
}

TEST_F(DefaultRules, VmmOpenOutsideAllowList) {
  const char* r = "Sandbox VMM open outside allow-list";
  EXPECT_TRUE(fires(r, vmm().open("/etc/shadow")));
  EXPECT_FALSE(fires(r, vmm().open("/dev/kvm", O_RDWR)));
  EXPECT_FALSE(fires(r, vmm().open("/usr/share/qemu/bios-256k.bin")));
}

TEST_F(DefaultRules, VmmInetSocket) {
  const char* r = "Sandbox VMM INET socket";
  EXPECT_TRUE(fires(r, vmm().type(EventType::socket).args({AF_INET, SOCK_STREAM, 0})));
  EXPECT_TRUE(fires(r, vmm().connect("1.2.3.4", 4444)));
  EXPECT_FALSE(fires(r, vmm().type(EventType::socket).args({AF_UNIX, SOCK_STREAM, 0})));
}

TEST_F(DefaultRules, VmmPtraced) {
  const char* r = "Sandbox VMM ptraced";
  EXPECT_TRUE(fires(r, EventBuilder().host().sandbox("sb1").vmm(5000).name("gdb").pid(6000).type(EventType::ptrace).args({16, 5000})));
  EXPECT_FALSE(fires(r, EventBuilder().host().sandbox("sb1").vmm(5000).name("gdb").pid(6000).type(EventType::ptrace).args({16, 7000})));
}

TEST_F(DefaultRules, VmmDiedBySignal) {
  const char* r = "Sandbox VMM died by signal";
  EXPECT_TRUE(fires(r, vmm().type(EventType::procexit).res(9)));
  EXPECT_FALSE(fires(r, vmm().type(EventType::procexit).res(15))) << "the shim's SIGTERM";
  EXPECT_FALSE(fires(r, vmm().type(EventType::procexit).res(0)));
}

TEST_F(DefaultRules, SequenceModuleLoadThenVmmExec) {
  const char* s = "Guest module load then VMM exec";
  EXPECT_FALSE(fires(s, guest().type(EventType::finit_module).args({3, 0})));
  EXPECT_TRUE(fires(s, vmm().exec("/bin/sh").parent("qemu-system-x86_64").after_ms(2000)));
  // Near miss: the VMM exec belongs to another sandbox.
  EXPECT_FALSE(fires(s, guest().type(EventType::finit_module).args({3, 0})));
  EXPECT_FALSE(fires(s, vmm().sandbox("sb2").exec("/bin/sh").after_ms(2000)));
}

TEST_F(DefaultRules, SequenceEscapeThenVmmNetwork) {
  const char* s = "Guest escape attempt then VMM network";
  EXPECT_FALSE(fires(s, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY)));
  EXPECT_TRUE(fires(s, vmm().connect("1.2.3.4", 4444).after_ms(10)));
  // Near miss: too late (outside 60 s).
  EXPECT_FALSE(fires(s, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY)));
  EXPECT_FALSE(fires(s, vmm().connect("1.2.3.4", 4444).after_ms(61'000)));
}

TEST_F(DefaultRules, SequenceMemoryDeviceThenVmmFile) {
  const char* s = "Guest memory device then VMM file access";
  EXPECT_FALSE(fires(s, guest().open("/dev/mem")));
  EXPECT_TRUE(fires(s, vmm().open("/etc/passwd").after_ms(5)));
  // Near miss: order reversed.
  EXPECT_FALSE(fires(s, vmm().open("/etc/passwd")));
  EXPECT_FALSE(fires(s, guest().open("/dev/mem").after_ms(5)));
}

}  // namespace
}  // namespace kata_sentry::policy::test
