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
  EXPECT_EQ(load_->rules.rules.size(), 32u);
  EXPECT_EQ(load_->rules.sequences.size(), 3u);
}

// The deny specs of a rule (one per alternative of its condition).
std::vector<EnforcementSpec> specs_of(Engine& e, const std::string& rule) {
  std::vector<EnforcementSpec> out;
  for (auto& s : e.enforcement_specs())
    if (s.rule == rule) out.push_back(s);
  return out;
}

// Every guest technique rule with action deny compiles to in-kernel specs for the guest view
// alone, and for containers only (never the agent).
TEST_F(DefaultRules, EveryGuestDenyRuleCompilesForTheGuest) {
  size_t deny_rules = 0;
  for (const auto& r : load_->rules.rules) {
    if (r.action != Action::deny || r.name.rfind("Guest", 0) != 0) continue;
    ++deny_rules;
    ASSERT_FALSE(r.enforcement.empty()) << r.name;
    for (const auto& s : r.enforcement) {
      EXPECT_TRUE(s.any_container) << r.name << ": containers only, never the agent";
      EXPECT_TRUE(s.view && *s.view == View::guest) << r.name << ": the guest's to enforce, never the host's";
    }
  }
  EXPECT_EQ(deny_rules, 20u);
}

TEST_F(DefaultRules, ReleaseAgentWrite) {
  const char* r = "Guest cgroup release_agent write";
  EXPECT_TRUE(fires(r, guest().open("/sys/fs/cgroup/memory/x/release_agent", O_WRONLY)));
  EXPECT_TRUE(fires(r, guest().open("/sys/fs/cgroup/memory/x/notify_on_release", O_WRONLY, EventType::lsm_file_open).no_res()));
  EXPECT_FALSE(fires(r, guest().open("/sys/fs/cgroup/memory/x/release_agent", O_RDONLY)));
}

TEST_F(DefaultRules, CorePatternWriteIsDeny) {
  const char* r = "Guest core_pattern write";
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY | O_TRUNC)));
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY, EventType::lsm_file_open).no_res()));
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_RDONLY))) << "reading it is fine";
  EXPECT_FALSE(fires(r, guest().container("").open("/proc/sys/kernel/core_pattern", O_WRONLY))) << "not a container";
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].exact_paths, std::vector<std::string>{"/proc/sys/kernel/core_pattern"});
  ASSERT_TRUE(specs[0].arg);
  EXPECT_EQ(specs[0].arg->name, "flags");
  EXPECT_TRUE(specs[0].arg->any_bit) << "write: O_WRONLY or O_RDWR";
  EXPECT_TRUE(specs[0].exceptions.empty()) << "an empty opt-out list holds for nothing";
}

TEST_F(DefaultRules, KernelSysctlOrSysrqWrite) {
  const char* r = "Guest kernel sysctl or sysrq write";
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/kernel/modprobe", O_WRONLY)));
  EXPECT_TRUE(fires(r, guest().open("/proc/sys/fs/binfmt_misc/register", O_WRONLY)));
  EXPECT_TRUE(fires(r, guest().open("/proc/sysrq-trigger", O_WRONLY)));
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/kernel/core_pattern", O_WRONLY))) << "its own rule";
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/net/ipv4/ip_forward", O_WRONLY)));
  EXPECT_FALSE(fires(r, guest().open("/proc/sys/kernel/modprobe", O_RDONLY)));
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 1u);
  ASSERT_EQ(specs[0].exceptions.size(), 1u) << "core_pattern is left to its own rule, in the kernel too";
  EXPECT_EQ(specs[0].exceptions[0].exact_paths, std::vector<std::string>{"/proc/sys/kernel/core_pattern"});
}

TEST_F(DefaultRules, KernelMemoryFile) {
  const char* r = "Guest kernel memory file opened";
  EXPECT_TRUE(fires(r, guest().open("/proc/kcore")));
  EXPECT_FALSE(fires(r, guest().open("/proc/kallsyms")));
}

TEST_F(DefaultRules, KernelModuleLoadIsDenyByEitherSyscall) {
  const char* r = "Guest kernel module load";
  EXPECT_TRUE(fires(r, guest().type(EventType::finit_module).args({3, 0})));
  EXPECT_TRUE(fires(r, guest().type(EventType::init_module).args({64})));
  EXPECT_FALSE(fires(r, agent().type(EventType::finit_module).args({3, 0}))) << "the agent loads virtio modules";
  EXPECT_FALSE(fires(r, guest().type(EventType::lsm_module_request).path("net-pf-40"))) << "the kernel's own autoload";
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].event_types, (std::vector<EventType>{EventType::init_module, EventType::finit_module}));
}

TEST_F(DefaultRules, KexecLoad) {
  const char* r = "Guest kexec load";
  EXPECT_TRUE(fires(r, guest().type(EventType::kexec_file_load).args({3, uint64_t(-1), 4})));
  EXPECT_TRUE(fires(r, guest().type(EventType::kexec_load).args({0, 0})));
  EXPECT_FALSE(fires(r, guest().type(EventType::finit_module).args({3, 0})));
}

TEST_F(DefaultRules, BpfAndPerfByWorkload) {
  EXPECT_TRUE(fires("Guest bpf by workload", guest().type(EventType::bpf).args({5})));
  EXPECT_FALSE(fires("Guest bpf by workload", agent().type(EventType::bpf).args({5})));
  EXPECT_TRUE(fires("Guest perf_event_open by workload", guest().type(EventType::lsm_perf_event_open).args({1})));
  EXPECT_FALSE(fires("Guest perf_event_open by workload", guest().container("").type(EventType::perf_event_open).args({1, 0, 0, 0})));
}

TEST_F(DefaultRules, PtraceOfAgent) {
  const char* r = "Guest ptrace of the agent";
  EXPECT_TRUE(fires(r, guest().type(EventType::ptrace).args({16, 1})));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_ptrace_access).args({0x12, 1}))) << "mode, then the target";
  EXPECT_FALSE(fires(r, guest().type(EventType::ptrace).args({16, 301})));
}

TEST_F(DefaultRules, PtraceAttachIsDenyForAttachesOnly) {
  const char* r = "Guest ptrace attach";
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_ptrace_access).args({0x12, 301})));  // ATTACH|REALCREDS
  EXPECT_FALSE(fires(r, guest().type(EventType::lsm_ptrace_access).args({0x09, 301}))) << "a /proc read check";
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 1u);
  ASSERT_TRUE(specs[0].arg);
  EXPECT_EQ(specs[0].arg->name, "mode");
  EXPECT_EQ(specs[0].arg->value, 2u);
}

TEST_F(DefaultRules, UserNamespaceCreation) {
  const char* r = "Guest user namespace creation";
  EXPECT_TRUE(fires(r, guest().type(EventType::unshare).args({0x10000000})));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_userns_create).args({0x10000000})));
  EXPECT_FALSE(fires(r, guest().type(EventType::unshare).args({0x00020000}))) << "mount ns only";
}

TEST_F(DefaultRules, SetnsAndNamespaceFiles) {
  EXPECT_TRUE(fires("Guest setns by workload", guest().type(EventType::setns).args({5, 0x20000000})));
  EXPECT_FALSE(fires("Guest setns by workload", agent().type(EventType::setns).args({5, 0x20000000})));
  auto ns = guest().open("mnt:[4026531840]", O_RDONLY, EventType::lsm_file_open).no_res().build();
  ns.file.mode = 0100444;
  ns.file.fs_magic = 0x6e736673;
  EXPECT_TRUE(fires("Guest namespace file opened", ns));
  ns.file.fs_magic = 0x9fa0;  // proc
  EXPECT_FALSE(fires("Guest namespace file opened", ns));
}

TEST_F(DefaultRules, IoUringUserfaultfdFileHandles) {
  EXPECT_TRUE(fires("Guest io_uring setup", guest().type(EventType::io_uring_setup).path("anon_inode:[io_uring]").args({4, 0})));
  EXPECT_FALSE(fires("Guest io_uring setup", guest().type(EventType::lsm_anon_inode).path("anon_inode:[io_uring]")))
      << "the hook's record joins the syscall's alert";
  EXPECT_TRUE(fires("Guest userfaultfd", guest().type(EventType::userfaultfd).args({0})));
  EXPECT_TRUE(fires("Guest userfaultfd", guest().open("/dev/userfaultfd", O_RDWR)));
  EXPECT_FALSE(fires("Guest userfaultfd", guest().open("/dev/null", O_RDWR)));
  EXPECT_EQ(specs_of(*engine_, "Guest userfaultfd").size(), 2u) << "the syscall, and the device";
  EXPECT_TRUE(fires("Guest file handle open", guest().type(EventType::open_by_handle_at).args({3, 0})));
  EXPECT_FALSE(fires("Guest file handle open", guest().type(EventType::name_to_handle_at).path("/etc/hostname").args({uint64_t(-100), 0})));
}

TEST_F(DefaultRules, RawMemoryDeviceByNumberAndByName) {
  const char* r = "Guest raw memory device access";
  EXPECT_TRUE(fires(r, guest().open("/dev/mem")));
  EXPECT_TRUE(fires(r, guest().open("/dev/port", O_RDWR)));
  EXPECT_TRUE(fires(r, guest().open("/tmp/anything", O_RDONLY, EventType::lsm_file_open).object(0020600, 1, 1)));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_inode_mknod).path("mymem").args({0020600, 0x100001}).object(0020600, 1, 1)));
  EXPECT_FALSE(fires(r, guest().open("/dev/null")));
  EXPECT_FALSE(fires(r, guest().open("/tmp/x", O_RDONLY, EventType::lsm_file_open).object(0020666, 1, 3))) << "/dev/null is 1:3";
  EXPECT_FALSE(fires(r, guest().open("/tmp/ram", O_RDONLY, EventType::lsm_file_open).object(0060600, 1, 1))) << "block 1:1 is a RAM disk";
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].device_kind, 'c');
  EXPECT_EQ(specs[0].rdev_major, 1u);
  EXPECT_EQ(specs[0].rdev_minors, (std::vector<uint32_t>{1, 2, 4}));
  EXPECT_EQ(specs[1].exact_paths, (std::vector<std::string>{"/dev/mem", "/dev/kmem", "/dev/port"}));
}

TEST_F(DefaultRules, BlockDeviceAccess) {
  const char* r = "Guest block device access";
  EXPECT_TRUE(fires(r, guest().open("/dev/vda", O_RDONLY, EventType::lsm_file_open).object(0060660, 254, 0)));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_inode_mknod).path("sda").args({060660, 0x800000}).object(0060660, 8, 0)));
  EXPECT_FALSE(fires(r, guest().open("/dev/tty", O_RDONLY, EventType::lsm_file_open).object(0020666, 5, 0)));
}

TEST_F(DefaultRules, MountBlockDeviceDebugfsOrCgroupV1) {
  const char* r = "Guest mount of block device, debugfs or cgroup v1";
  EXPECT_TRUE(fires(r, guest().type(EventType::mount).path("/dev/vda").path2("/mnt").fstype("ext4").args({0})));
  EXPECT_TRUE(fires(r, guest().type(EventType::mount).path("none").path2("/d").fstype("debugfs").args({0})));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_sb_mount).path("cgroup").path2("/tmp/cg").fstype("cgroup").args({0})));
  EXPECT_FALSE(fires(r, guest().type(EventType::mount).path("tmpfs").path2("/tmp").fstype("tmpfs").args({0})));
  EXPECT_FALSE(fires(r, guest().type(EventType::mount).path("tmpfs").path2("/dev/shm").fstype("tmpfs").args({0}))) << "the target is not the source";
  EXPECT_FALSE(fires(r, guest().type(EventType::mount).path("cgroup2").path2("/sys/fs/cgroup").fstype("cgroup2").args({0})));
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].fstypes, (std::vector<std::string>{"cgroup", "debugfs", "tracefs", "securityfs"}));
  EXPECT_EQ(specs[1].path_prefixes, std::vector<std::string>{"/dev/"});
  EXPECT_EQ(specs[1].mount_side, 's');
}

TEST_F(DefaultRules, ExecFromMemfdShmOrDeletedFile) {
  const char* r = "Guest exec from memfd, /dev/shm or a deleted file";
  EXPECT_TRUE(fires(r, guest().exec("memfd:x").parent("sh")));
  EXPECT_TRUE(fires(r, guest().exec("/dev/shm/payload")));
  EXPECT_TRUE(fires(r, guest().type(EventType::lsm_bprm_check).exepath("/memfd:payload (deleted)")));
  auto deleted = guest().exec("/tmp/gone").build();
  deleted.proc.exe_deleted = true;
  EXPECT_TRUE(fires(r, deleted));
  EXPECT_FALSE(fires(r, guest().exec("/usr/bin/id")));
  EXPECT_FALSE(fires(r, guest().exec("/dev/shmx/payload")));
}

TEST_F(DefaultRules, VsockSocketAgentChannelAndConnect) {
  EXPECT_TRUE(fires("Guest vsock socket", guest().type(EventType::socket).args({AF_VSOCK, SOCK_STREAM, 0})));
  EXPECT_TRUE(fires("Guest vsock socket", guest().type(EventType::lsm_socket_create).args({AF_VSOCK, SOCK_STREAM, 0})));
  EXPECT_FALSE(fires("Guest vsock socket", guest().type(EventType::socket).args({AF_NETLINK, SOCK_RAW, 0})));
  EXPECT_FALSE(fires("Guest vsock socket", agent().type(EventType::socket).args({AF_VSOCK, SOCK_STREAM, 0})));
  EXPECT_TRUE(fires("Guest agent channel opened", guest().open("/dev/vport0p1", O_RDWR)));
  EXPECT_FALSE(fires("Guest agent channel opened", guest().open("/dev/ttyS0", O_RDWR)));
  EXPECT_TRUE(fires("Guest connect to vsock", guest().type(EventType::connect).args({3}).vsock(2, 1024)));
  EXPECT_FALSE(fires("Guest connect to vsock", guest().connect("10.0.0.1", 80)));
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
  auto specs = specs_of(*engine_, r);
  ASSERT_EQ(specs.size(), 1u) << "must compile to an in-kernel deny spec";
  EXPECT_TRUE(specs[0].any_container);
  EXPECT_EQ(specs[0].exact_paths, (std::vector<std::string>{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-"}));
}

// Opting out is explicit: appending a container id to the rule's list lets that container do
// it, in the rules and in the kernel's deny set (an exception).
TEST(DefaultRulesOptOut, AppendingToTheListExemptsThatContainerOnly) {
  auto sources = sources_or_die({KS_DEFAULT_RULES_DIR});
  sources.push_back({"local.yaml", "- list: ks_io_uring_allowed_containers\n  items: [builder]\n  append: true\n"});
  auto r = load_rules(sources);
  ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  Engine engine(r.rules, {});
  auto ring = [](const std::string& c) {
    return EventBuilder().guest().sandbox("sb1").container(c).type(EventType::io_uring_setup).path("anon_inode:[io_uring]").args({4, 0});
  };
  EXPECT_FALSE(has(fired(engine, ring("builder")), "Guest io_uring setup"));
  EXPECT_TRUE(has(fired(engine, ring("web")), "Guest io_uring setup"));
  auto specs = specs_of(engine, "Guest io_uring setup");
  ASSERT_EQ(specs.size(), 1u);
  ASSERT_EQ(specs[0].exceptions.size(), 1u);
  EXPECT_EQ(specs[0].exceptions[0].container_ids, std::vector<std::string>{"builder"});
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
