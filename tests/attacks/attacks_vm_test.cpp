// vm tier, issues 5 and 11: real escape techniques inside privileged containers of a booted
// sandbox, watched by the SandboxMonitor with the default rules. One sandbox per mode, shared by
// the mode's suites (a TCG boot costs seconds): monitor mode (every technique raises exactly its
// alerts, each with the sandbox and container ids; host stage 2; the sequence; the benign set
// raises none) and enforce mode (the deny rules pushed into the guest LSM: each deny-able
// technique fails with EPERM/EACCES, its one alert says "enforced":true, and an audit record
// names the rule and the LSM hook; the agent and the sensor go on working).
//
// The techniques are the table in rules/README.md; each row's primitive is a subcommand of
// ks-attack (tests/attacks/attack_helper.c), which makes the real syscall.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/oci/oci_spec.h"
#include "core/cgroup2.h"
#include "core/read_file.h"
#include "cli/run_monitor.h"
#include "monitor/host_probe_hub.h"
#include "monitor/rules_path.h"
#include "monitor/sandbox_monitor.h"
#include "policy-engine/guest_deny_rules.h"
#include "runtime/sandbox/sandbox.h"
#include "tests/support/vm_sandbox.h"

namespace kata_sentry::monitor {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using Outcome = testing::ContainerOutcome;

struct Seen {
  std::mutex mu;
  std::vector<policy::Alert> alerts;
  std::vector<AuditRecord> audits;
};

class AttackSuite {
 public:
  explicit AttackSuite(policy::Mode mode) : mode_(mode) {}

  std::string boot() {
    if (::geteuid() != 0) return "";
    // The busybox rootfs plus ks-attack (the syscalls busybox cannot make).
    auto image = vm::GuestImage::locate(vm::GuestImage::default_dir());
    if (!image) return "guest image: " + image.error().describe();
    rootfs_ = fs::temp_directory_path() / ("ks-attack-rootfs-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(rootfs_, ec);
    fs::copy(image->default_rootfs, rootfs_, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return "copy rootfs: " + ec.message();
    fs::create_directories(rootfs_ / "usr/local/bin", ec);
    fs::copy_file(KS_ATTACK_HELPER, rootfs_ / "usr/local/bin/ks-attack", fs::copy_options::overwrite_existing, ec);
    if (ec) return "copy ks-attack: " + ec.message();
    // busybox's rootfs has no shadow file; the attack needs one to read.
    if (FILE* f = std::fopen((rootfs_ / "etc/shadow").c_str(), "w")) {
      std::fputs("root:$6$salt$hash:19000:0:99999:7:::\n", f);
      std::fclose(f);
    } else {
      return "write etc/shadow into the rootfs copy";
    }

    auto created = runtime::Sandbox::create(runtime::SandboxOptions{});
    if (!created) return "boot: " + created.error().describe();
    sandbox_ = std::move(*created);
    auto dir = default_rules_dir();
    if (!dir) return dir.error().describe();
    auto engine = load_engine({*dir}, mode_);
    if (!engine) return engine.error().describe();
    MonitorOptions o;
    o.sandbox_id = sandbox_->id();
    o.sandbox_name = "attack-suite";
    o.vmm_pid = static_cast<uint32_t>(sandbox_->vm().qemu_pid());
    o.helper_tgids = {static_cast<uint32_t>(sandbox_->vm().virtiofsd_pid())};
    if (auto cg = sandbox_->vm().host_cgroup(); !cg.empty()) o.host_cgroups = {cg};
    std::vector<uint32_t> host_pids = o.helper_tgids;
    host_pids.push_back(o.vmm_pid);
    std::vector<std::string> host_cgroups = o.host_cgroups;
    o.on_alert = [this](const policy::Alert& a) {
      std::lock_guard l(seen_.mu);
      seen_.alerts.push_back(a);
    };
    o.on_audit = [this](const AuditRecord& r) {
      std::lock_guard l(seen_.mu);
      seen_.audits.push_back(r);
    };
    auto hub = HostProbeHub::open();
    if (!hub) return "host probes: " + hub.error().describe();
    hub_ = std::move(*hub);
    auto m = SandboxMonitor::start(std::move(*engine), o, cli::hooks_for(*sandbox_), nullptr);
    if (!m) return "monitor: " + m.error().describe();
    monitor_ = std::move(*m);
    SandboxMonitor* sink = monitor_.get();
    if (auto st = hub_->attach(sandbox_->id(), host_pids, host_cgroups, [sink](Event&& ev) { sink->feed_host(std::move(ev)); }); !st)
      return "host probes attach: " + st.error().describe();
    // The sensor must be streaming before the first attack, or the test proves nothing. It
    // streams once its BPF programs are verified and attached, which under TCG on a loaded
    // machine has taken 7 to 15 s after the agent serves: a wait for that marker, not a bound.
    if (!monitor_->flush(60s)) return "the guest sensor sends no heartbeats within 60 s (StreamEvents not served?)";
    return "";
  }

  void teardown() {
    if (hub_ && sandbox_) hub_->detach(sandbox_->id());
    if (monitor_) monitor_->stop();
    monitor_.reset();
    if (sandbox_) (void)sandbox_->destroy();
    sandbox_.reset();
    std::error_code ec;
    if (!rootfs_.empty()) fs::remove_all(rootfs_, ec);
  }

  // Runs one privileged container to completion, then waits until the guest delivered its events.
  Outcome run(const std::string& id, std::vector<std::string> args, bool privileged = true,
              const std::function<void(OciSpec&)>& tweak = {}) {
    auto spec = default_oci_spec(std::move(args), privileged);
    if (tweak) tweak(spec);
    monitor_->set_known_containers({id});  // as the shim registers a container before creating it
    auto o = testing::run_container(*sandbox_, id, spec, rootfs_);
    EXPECT_TRUE(monitor_->flush(5s)) << "no heartbeats after the container exited";
    return o;
  }

  std::vector<policy::Alert> alerts_where(const std::function<bool(const policy::Alert&)>& pred) {
    std::lock_guard l(seen_.mu);
    std::vector<policy::Alert> out;
    for (const auto& a : seen_.alerts)
      if (pred(a)) out.push_back(a);
    return out;
  }
  std::vector<policy::Alert> alerts_for(const std::string& container, const std::string& rule) {
    return alerts_where([&](const policy::Alert& a) {
      return a.rule == rule && !a.events.empty() && a.events.back().container_id == container;
    });
  }
  std::vector<policy::Alert> alerts_in(const std::string& container) {
    return alerts_where([&](const policy::Alert& a) { return !a.events.empty() && a.events.back().container_id == container; });
  }
  std::vector<AuditRecord> audits() {
    std::lock_guard l(seen_.mu);
    return seen_.audits;
  }
  size_t alert_count() {
    std::lock_guard l(seen_.mu);
    return seen_.alerts.size();
  }
  std::string dump() {
    std::lock_guard l(seen_.mu);
    std::string s;
    for (const auto& a : seen_.alerts) s += policy::alert_to_json_line(a) + "\n";
    for (const auto& r : seen_.audits) s += "audit: " + r.rule + (r.ok ? " ok: " : " FAILED: ") + r.detail + "\n";
    return s;
  }

  policy::Mode mode_;
  fs::path rootfs_;
  std::unique_ptr<runtime::Sandbox> sandbox_;
  std::unique_ptr<HostProbeHub> hub_;  // outlives the monitor it feeds
  std::unique_ptr<SandboxMonitor> monitor_;
  Seen seen_;
};

// One booted sandbox for the mode of the suites that run now, shared by them (the monitor-mode
// suites come first in this file, then the enforce-mode ones, so each mode boots once); the
// last one goes at the end of the run. At most one guest at a time.
AttackSuite* shared_suite(policy::Mode mode, std::string& error) {
  static std::unique_ptr<AttackSuite> current;
  static std::string current_error;
  if (!current || current->mode_ != mode) {
    if (current) current->teardown();
    current = std::make_unique<AttackSuite>(mode);
    current_error = current->boot();
    static bool registered = [] {
      struct Teardown : ::testing::Environment {
        void TearDown() override {
          if (current) current->teardown();
        }
      };
      ::testing::AddGlobalTestEnvironment(new Teardown);
      return true;
    }();
    (void)registered;
  }
  error = current_error;
  return current.get();
}

// ------------------------------------------------------------------ monitor mode

class Monitor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { suite_ = shared_suite(policy::Mode::monitor, error_); }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (QEMU, BPF, mounts)";
    ASSERT_EQ(error_, "");
  }
  // Runs `args` in container `cid` and expects `rule` with view=guest, sandbox and container ids.
  void expect_guest_alert(const std::string& cid, std::vector<std::string> args, const std::string& rule,
                          const std::function<void(OciSpec&)>& tweak = {}) {
    auto o = suite_->run(cid, std::move(args), true, tweak);
    auto hits = suite_->alerts_for(cid, rule);
    ASSERT_FALSE(hits.empty()) << "no '" << rule << "' for container " << cid << " (exit " << o.code << ", out " << o.out
                               << o.err << ")\nalerts so far:\n"
                               << suite_->dump();
    const auto& a = hits.front();
    EXPECT_EQ(a.view, View::guest);
    EXPECT_EQ(a.sandbox, suite_->sandbox_->id());
    auto j = policy::alert_to_json(a);
    EXPECT_EQ(j["view"], "guest");
    EXPECT_EQ(j["sandbox"], suite_->sandbox_->id());
    EXPECT_EQ(a.events.back().container_id, cid);
    EXPECT_FALSE(a.enforced);
  }
  static inline AttackSuite* suite_ = nullptr;
  static inline std::string error_;
};

// A v1 hierarchy can only be mounted from the initial cgroup namespace, which is what a
// container sharing the guest's cgroup namespace has.
void share_cgroup_namespace(OciSpec& spec) {
  std::erase_if(spec.linux.namespaces, [](const OciNamespace& n) { return n.type == "cgroup"; });
}

// One row of rules/README.md's technique table.
struct Technique {
  std::string name;                    // test name
  std::vector<std::string> args;       // the container's command: the primitive
  std::vector<std::string> alerts;     // monitor mode: exactly these alerts (a rule twice: two operations)
  std::string deny_rule;               // enforce mode: the rule the guest LSM enforces ("" : detection only)
  std::string hook;                    // ... at this hook (named in its audit record)
  std::function<void(OciSpec&)> tweak = {};
  std::string cmdline_contains = "";   // the alert's proc.cmdline must contain this
};


const std::vector<Technique>& techniques() {
  static const std::vector<Technique> kTable = {
      {"CorePatternWrite", {"sh", "-c", "echo '|/x' > /proc/sys/kernel/core_pattern"}, {"Guest core_pattern write"},
       "Guest core_pattern write", "lsm_file_open", {}, "echo"},
      {"ModprobePathWrite", {"ks-attack", "write-sysctl", "kernel/modprobe"}, {"Guest kernel sysctl or sysrq write"},
       "Guest kernel sysctl or sysrq write", "lsm_file_open"},
      {"SysrqTrigger", {"ks-attack", "write-sysrq"}, {"Guest kernel sysctl or sysrq write"}, "Guest kernel sysctl or sysrq write",
       "lsm_file_open"},
      {"Kcore", {"ks-attack", "open-kcore"}, {"Guest kernel memory file opened"}, "Guest kernel memory file opened", "lsm_file_open"},
      {"ModuleLoadByFile", {"ks-attack", "finit-module"}, {"Guest kernel module load"}, "Guest kernel module load",
       "lsm_kernel_read_file"},
      {"ModuleLoadByImage", {"ks-attack", "init-module"}, {"Guest kernel module load"}, "Guest kernel module load",
       "lsm_kernel_load_data"},
      {"KexecLoad", {"ks-attack", "kexec-load"}, {"Guest kexec load"}, "Guest kexec load", "lsm_kernel_load_data"},
      {"Bpf", {"ks-attack", "bpf"}, {"Guest bpf by workload"}, "Guest bpf by workload", "lsm_bpf"},
      {"PerfEventOpen", {"ks-attack", "perf-event-open"}, {"Guest perf_event_open by workload"}, "Guest perf_event_open by workload",
       "lsm_perf_event_open"},
      {"PtraceAttach", {"ks-attack", "ptrace-child"}, {"Guest ptrace attach"}, "Guest ptrace attach", "lsm_ptrace_access"},
      {"ProcessVmReadv", {"ks-attack", "process-vm-readv"}, {"Guest ptrace attach"}, "Guest ptrace attach", "lsm_ptrace_access"},
      {"UserNamespace", {"ks-attack", "unshare-user"}, {"Guest user namespace creation"}, "Guest user namespace creation",
       "lsm_userns_create"},
      // Two operations: the namespace file is opened (refused in enforce mode), then joined.
      {"Setns", {"ks-attack", "setns", "mnt"}, {"Guest namespace file opened", "Guest setns by workload"},
       "Guest namespace file opened", "lsm_file_open"},
      {"IoUringSetup", {"ks-attack", "io-uring-setup"}, {"Guest io_uring setup"}, "Guest io_uring setup", "lsm_anon_inode"},
      {"Userfaultfd", {"ks-attack", "userfaultfd"}, {"Guest userfaultfd"}, "Guest userfaultfd", "lsm_anon_inode"},
      {"FileHandleOpen", {"sh", "-c", "echo x > /dev/shm/ks-h && ks-attack open-by-handle /dev/shm/ks-h"},
       {"Guest file handle open"}, "Guest file handle open", "lsm_file_open"},
      {"RawMemoryNodeOfItsOwn", {"ks-attack", "mknod-mem"}, {"Guest raw memory device access"}, "Guest raw memory device access",
       "lsm_inode_mknod"},
      // By number, under a name no path rule knows: the node is the workload's own (a container's
      // rootfs is on virtio-fs, mounted nodev, so a node staged there cannot be opened at all).
      // Monitor mode sees both the mknod and the open; in enforce mode the mknod is refused first
      // (RawMemoryNodeOfItsOwn), so the by-number refusal at file_open has no row of its own.
      {"RawMemoryByNumber", {"sh", "-c", "ks-attack mknod-mem && ks-attack open /dev/ks-mem"},
       {"Guest raw memory device access", "Guest raw memory device access"}, "", ""},
      {"BlockDeviceNodeOfItsOwn", {"ks-attack", "mknod-block"}, {"Guest block device access"}, "Guest block device access",
       "lsm_inode_mknod"},
      {"BlockDeviceOpen", {"sh", "-c", "ks-attack mknod-block && ks-attack open /dev/ks-sda"},
       {"Guest block device access", "Guest block device access"}, "", ""},
      {"BlockDeviceMount", {"ks-attack", "mount-block", "/dev/vda"}, {"Guest mount of block device, debugfs or cgroup v1"},
       "Guest mount of block device, debugfs or cgroup v1", "lsm_sb_mount"},
      {"DebugfsMount", {"ks-attack", "mount-debugfs"}, {"Guest mount of block device, debugfs or cgroup v1"},
       "Guest mount of block device, debugfs or cgroup v1", "lsm_sb_mount"},
      {"CgroupV1Mount", {"ks-attack", "mount-cgroup1"}, {"Guest mount of block device, debugfs or cgroup v1"},
       "Guest mount of block device, debugfs or cgroup v1", "lsm_sb_mount", share_cgroup_namespace},
      // Detection of the write itself (the mount before it is the deny-able step).
      {"ReleaseAgentWrite", {"sh", "-c", "ks-attack mount-cgroup1 && echo /x > /tmp/ks-cg/release_agent"},
       {"Guest mount of block device, debugfs or cgroup v1", "Guest cgroup release_agent write"}, "", "", share_cgroup_namespace},
      {"MemfdExec", {"ks-attack", "memfd-exec"}, {"Guest exec from memfd, /dev/shm or a deleted file"},
       "Guest exec from memfd, /dev/shm or a deleted file", "lsm_bprm_check"},
      // A container's /dev/shm is mounted noexec (the exec would fail with EACCES before any
      // LSM hook): the attacker, privileged, remounts it first.
      {"DevShmExec", {"sh", "-c", "mount -o remount,exec /dev/shm && ks-attack shm-exec"}, {"Guest exec from memfd, /dev/shm or a deleted file"},
       "Guest exec from memfd, /dev/shm or a deleted file", "lsm_bprm_check"},
      {"DeletedFileExec", {"ks-attack", "deleted-exec"}, {"Guest exec from memfd, /dev/shm or a deleted file"},
       "Guest exec from memfd, /dev/shm or a deleted file", "lsm_bprm_check"},
      // This guest has no vsock transport: the socket is the attempt (refused before the kernel looks for one).
      {"VsockSocket", {"ks-attack", "vsock"}, {"Guest vsock socket"}, "Guest vsock socket", "lsm_socket_create"},
      {"AgentChannel",
       {"sh", "-c", "mknod /dev/vport0p1 c $(tr : ' ' < /sys/class/virtio-ports/vport0p1/dev) && ks-attack open-write /dev/vport0p1"},
       {"Guest agent channel opened"}, "Guest agent channel opened", "lsm_file_open"},
      {"ShadowRead", {"ks-attack", "open", "/etc/shadow"}, {"Guest read of sensitive file"}, "Guest read of sensitive file",
       "lsm_file_open"},
  };
  return kTable;
}

// One test per technique and mode, registered in file order (after the mode's other tests),
// so that each mode's sandbox boots once.
class MonitorTechnique : public Monitor {
 public:
  explicit MonitorTechnique(const Technique* t) : t_(t) {}
  void TestBody() override;

 private:
  const Technique* t_;
};

// Monitor mode: exactly the technique's alerts, each once, each with the sandbox and container.
void MonitorTechnique::TestBody() {
  const Technique& t = *t_;
  const std::string cid = "m-" + t.name;
  auto o = suite_->run(cid, t.args, true, t.tweak);
  EXPECT_EQ((o.out + o.err).find("Operation not permitted: by"), std::string::npos);
  auto alerts = suite_->alerts_in(cid);
  std::vector<std::string> rules;
  for (const auto& a : alerts) rules.push_back(a.rule);
  std::vector<std::string> want = t.alerts;
  std::sort(rules.begin(), rules.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rules, want) << "exit " << o.code << ": " << o.out << o.err << "\n" << suite_->dump();
  for (const auto& a : alerts) {
    EXPECT_EQ(a.view, View::guest);
    EXPECT_EQ(a.sandbox, suite_->sandbox_->id());
    EXPECT_EQ(policy::alert_to_json(a)["sandbox"], suite_->sandbox_->id());
    EXPECT_EQ(a.events.back().container_id, cid);
    EXPECT_FALSE(a.enforced) << a.rule;
    if (!t.cmdline_contains.empty()) {
      EXPECT_NE(a.events.back().proc.cmdline().find(t.cmdline_contains), std::string::npos)
          << "proc.cmdline \"" << a.events.back().proc.cmdline() << "\"";
    }
  }
}


// The benign set: build-tool-like work, archives, shells, package-manager-like writes under
// /tmp, a server on loopback, reading /etc/passwd, listing processes, and the everyday calls of
// the new event types (directories, links, modes, datagrams, netlink). Shared by both modes.
const std::vector<std::string> kBenignScript = {
    "sh", "-c",
    "set -e; mkdir -p /tmp/build/src /tmp/pkg/usr/bin; cd /tmp/build;"
    " for i in 1 2 3; do echo \"int f$i(void){return $i;}\" > src/f$i.c; done; cat src/*.c | wc -l;"
    " tar czf /tmp/src.tgz src; mkdir -p /tmp/unpack; tar xzf /tmp/src.tgz -C /tmp/unpack; gzip -k /tmp/build/src/f1.c;"
    " cp /bin/busybox /tmp/pkg/usr/bin/tool; chmod 0755 /tmp/pkg/usr/bin/tool; ln -s tool /tmp/pkg/usr/bin/alias;"
    " ln /tmp/pkg/usr/bin/tool /tmp/pkg/usr/bin/hard; rm -rf /tmp/pkg/usr/bin/alias; rmdir /tmp/unpack/src 2>/dev/null || true;"
    " sort /etc/passwd | head -n1; grep -c root /etc/passwd; ps > /dev/null; ls -l /proc/self/fd > /dev/null;"
    " sed -n 1p /etc/passwd | awk -F: '{print $1}'; find /tmp/build -name '*.c' | wc -l; date; uname -a;"
    " ip link set lo up 2>/dev/null || true; mkdir -p /tmp/www; echo hello > /tmp/www/index.html;"
    " httpd -p 127.0.0.1:8080 -h /tmp/www; wget -q -O - http://127.0.0.1:8080/index.html;"
    " ks-attack udp-recvfrom; ks-attack udp-sendmsg; ks-attack socket-netlink; ks-attack prctl; ks-attack mkdir /tmp/ks-d;"
    " ks-attack rmdir; ks-attack link; ks-attack fchmodat;"
    " rm -rf /tmp/build /tmp/www /tmp/pkg /tmp/src.tgz /tmp/unpack"};

TEST_F(Monitor, BenignWorkloadRaisesNoAlert) {
  size_t before = suite_->alert_count();
  auto o = suite_->run("benign", kBenignScript, /*privileged=*/true);  // lo is down; only a privileged one may raise it
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("hello"), std::string::npos) << "the loopback HTTP request failed: " << o.out << o.err;
  EXPECT_EQ(suite_->alert_count(), before) << suite_->dump();
}

// An attacker's first move used to be a file name that is not UTF-8: the host refused the
// guest's whole stream, and the core_pattern write after it went unseen.
[[maybe_unused]] const bool kMonitorTechniques = [] {
  for (const auto& t : techniques())
    ::testing::RegisterTest("MonitorTechnique", t.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [&t]() -> MonitorTechnique* { return new MonitorTechnique(&t); });
  return true;
}();

TEST_F(Monitor, CorePatternWriteAfterANonUtf8FileNameIsStillAlerted) {
  expect_guest_alert("blind-first",
                     {"sh", "-c",
                      "f=\"/tmp/$(printf '\\377\\376')x\"; touch \"$f\"; cat \"$f\"; echo '|/x' > /proc/sys/kernel/core_pattern"},
                     "Guest core_pattern write");
  EXPECT_EQ(suite_->monitor_->stats().guest.batches_dropped(), 0u) << "the honest agent's batches were refused";
}

// Host stage 2: QEMU cannot be made to spawn a shell, so a child of this test is put into the
// sandbox's VMM scope (watched in the kernel like QEMU, same uid) and runs /bin/sh, which opens
// an INET socket. Runs after CorePatternWrite, so the sequence rule completes too.
TEST_F(Monitor, HostStage2AndTheSequence) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) _exit(3);
    ::execl("/bin/sh", "sh", "-c", "exec /bin/busybox nc -w 1 127.0.0.1 9 </dev/null", (char*)nullptr);
    _exit(127);
  }
  ::close(go[0]);
  auto watched = suite_->hub_->watch(suite_->sandbox_->id(), static_cast<uint32_t>(child));
  ASSERT_TRUE(watched) << watched.error().describe();
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int st = 0;
  ::waitpid(child, &st, 0);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  auto host_net = [&] {
    return suite_->alerts_where([&](const policy::Alert& a) { return a.rule == "Sandbox VMM INET socket"; });
  };
  while (host_net().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  auto net = host_net();
  ASSERT_FALSE(net.empty()) << suite_->dump();
  EXPECT_EQ(net[0].view, View::host);
  EXPECT_EQ(net[0].sandbox, suite_->sandbox_->id());
  auto exec = suite_->alerts_where([&](const policy::Alert& a) { return a.rule == "Sandbox VMM execve"; });
  EXPECT_FALSE(exec.empty()) << suite_->dump();
  auto seq = suite_->alerts_where([&](const policy::Alert& a) { return a.rule == "Guest escape attempt then VMM network"; });
  ASSERT_EQ(seq.size(), 1u) << suite_->dump();
  EXPECT_EQ(seq[0].priority, policy::Priority::critical);
  EXPECT_TRUE(seq[0].is_sequence);
  EXPECT_FALSE(seq[0].enforced);  // monitor mode: kill_sandbox reported, not done
}

// ------------------------------------------------------------------ enforce mode

class Enforce : public Monitor {
 protected:
  static void SetUpTestSuite() { suite_ = shared_suite(policy::Mode::enforce, error_); }
};

class EnforceTechnique : public Enforce {
 public:
  explicit EnforceTechnique(const Technique* t) : t_(t) {}
  void TestBody() override;

 private:
  const Technique* t_;
};

// Enforce mode: the primitive fails with EPERM (or EACCES), its one alert says enforced, and an
// audit record names the rule, the hook that refused it and the container.
void EnforceTechnique::TestBody() {
  const Technique& t = *t_;
  const std::string cid = "e-" + t.name;
  auto o = suite_->run(cid, t.args, true, t.tweak);
  const std::string out = o.out + o.err;
  EXPECT_NE(o.code, 0) << out;
  EXPECT_TRUE(out.find("Operation not permitted") != std::string::npos || out.find("Permission denied") != std::string::npos)
      << out;
  auto alerts = suite_->alerts_in(cid);
  ASSERT_EQ(alerts.size(), 1u) << out << "\n" << suite_->dump();
  const auto& a = alerts[0];
  bool names_rule = a.rule == t.deny_rule || std::find(a.also_matched.begin(), a.also_matched.end(), t.deny_rule) != a.also_matched.end();
  EXPECT_TRUE(names_rule) << a.rule;
  EXPECT_TRUE(a.enforced) << suite_->dump();
  EXPECT_EQ(policy::alert_to_json(a)["enforced"], true);
  EXPECT_EQ(a.view, View::guest);
  EXPECT_EQ(a.sandbox, suite_->sandbox_->id());
  EXPECT_EQ(a.events.back().container_id, cid);
  bool audited = false;
  for (const auto& r : suite_->audits())
    audited |= r.ok && r.rule == t.deny_rule && r.detail.find("denied in-kernel by guest LSM at " + t.hook + " (EPERM)") != std::string::npos &&
               r.detail.find(cid) != std::string::npos;
  EXPECT_TRUE(audited) << "no audit record naming " << t.deny_rule << " at " << t.hook << "\n" << suite_->dump();
}

[[maybe_unused]] const bool kEnforceTechniques = [] {
  for (const auto& t : techniques())
    if (!t.deny_rule.empty())
      ::testing::RegisterTest("EnforceTechnique", t.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                              [&t]() -> EnforceTechnique* { return new EnforceTechnique(&t); });
  return true;
}();

TEST_F(Enforce, BenignWorkloadRaisesNoAlert) {
  size_t before = suite_->alert_count();
  auto o = suite_->run("benign-enf", kBenignScript, true);
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("hello"), std::string::npos) << o.out << o.err;
  EXPECT_EQ(suite_->alert_count(), before) << suite_->dump();
}

// The deny set never stops the agent or the sensor: under it the agent still starts containers
// (its launcher mounts proc, sysfs, devpts and cgroups, the very mounts the rules refuse to a
// workload), the sensor still streams, and the agent's own bpf() calls (re-installing the deny
// set writes its maps) still go through.
TEST_F(Enforce, AgentAndSensorAreNeverRefused) {
  auto o = suite_->run("agent-ok", {"sh", "-c", "mount | grep -c ' /proc ' && cat /proc/self/cgroup"}, true);
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_TRUE(suite_->monitor_->flush(5s)) << "the sensor stopped streaming";
  auto engine = load_engine({*default_rules_dir()}, policy::Mode::enforce);
  ASSERT_TRUE(engine);
  auto rules = policy::guest_deny_rules((*engine)->enforcement_specs(), suite_->sandbox_->id());
  ASSERT_GE(rules.size(), 20u);
  auto refused = suite_->sandbox_->agent().set_enforcement(rules);
  ASSERT_TRUE(refused) << refused.error().describe();
  EXPECT_EQ(*refused, std::vector<std::string>{}) << "every default deny rule is enforceable in this guest";
}

TEST_F(Enforce, CorePatternIsUnchanged) {
  auto o = suite_->run("core-pattern-read", {"cat", "/proc/sys/kernel/core_pattern"});
  EXPECT_EQ(o.out.find("|/x"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace kata_sentry::monitor

namespace kata_sentry::monitor {
namespace {

// Host stage 2 in enforce mode: "Sandbox VMM execve" has action kill, so the shell that a
// process in the VMM's scope starts is killed through a pidfd, and an audit record says so.
TEST_F(Enforce, HostShellInTheVmmScopeIsKilled) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) _exit(3);
    ::execl("/bin/sh", "sh", "-c", "exec /bin/busybox sleep 10", (char*)nullptr);
    _exit(127);
  }
  ::close(go[0]);
  auto watched = suite_->hub_->watch(suite_->sandbox_->id(), static_cast<uint32_t>(child));
  ASSERT_TRUE(watched) << watched.error().describe();
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  auto start = std::chrono::steady_clock::now();
  int st = 0;
  ::waitpid(child, &st, 0);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "status " << st;
  EXPECT_LT(took, 5s);
  bool audited = false;
  for (const auto& r : suite_->audits())
    audited |= r.ok && r.detail.find("killed host pid " + std::to_string(child)) != std::string::npos;
  EXPECT_TRUE(audited) << suite_->dump();
}

}  // namespace
}  // namespace kata_sentry::monitor

namespace kata_sentry::monitor {
namespace {

// Host stage 2, network, in enforce mode: "Sandbox VMM INET connect denied" is pushed to the
// cgroup programs on the sandbox's host cgroup (where QEMU and virtiofsd run). A process put
// into that cgroup (as anything QEMU spawned would be) connects to a listening 127.0.0.1 port:
// the connect fails with EPERM (not ECONNREFUSED: the port listens), the refusal is audited and
// the alert says enforced. No exec in the child: "Sandbox VMM execve" would kill it first.
TEST_F(Enforce, HostInetConnectFromTheVmmCgroupFailsWithEperm) {
  auto cgroup = suite_->sandbox_->vm().host_cgroup();
  ASSERT_FALSE(cgroup.empty()) << "the sandbox has no cgroup of its own";
  // QEMU and virtiofsd run in it from their first instruction (joined before exec).
  auto qemu_cg = cgroup2_id(cgroup);
  ASSERT_TRUE(qemu_cg);
  for (pid_t p : {suite_->sandbox_->vm().qemu_pid(), suite_->sandbox_->vm().virtiofsd_pid()}) {
    std::istringstream in(read_small_file("/proc/" + std::to_string(p) + "/cgroup").value_or(""));
    std::string line, v2;
    while (std::getline(in, line))
      if (line.rfind("0::", 0) == 0) v2 = line.substr(3);
    EXPECT_TRUE(cgroup.ends_with(v2) && !v2.empty() && v2 != "/") << "pid " << p << " is in " << v2 << ", not " << cgroup;
  }
  bool installed = false;
  for (const auto& r : suite_->audits())
    installed |= r.ok && r.view == View::host && r.detail.find("in host cgroup programs") != std::string::npos &&
                 r.detail.find("Sandbox VMM INET connect denied") != std::string::npos;
  ASSERT_TRUE(installed) << suite_->dump();

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const uint16_t port = ntohs(a.sin_port);

  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only raw syscalls here: the parent has threads.
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) _exit(200);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    _exit(rc);
  }
  ::close(go[0]);
  auto joined = cgroup2_add(cgroup, child);
  ASSERT_TRUE(joined) << joined.error().describe();
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int st = 0;
  ::waitpid(child, &st, 0);
  ::close(lfd);
  ASSERT_TRUE(WIFEXITED(st)) << "status " << st;
  EXPECT_EQ(WEXITSTATUS(st), EPERM) << "connect errno " << WEXITSTATUS(st);

  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto refusal_audited = [&] {
    for (const auto& r : suite_->audits())
      if (r.ok && r.rule == "Sandbox VMM INET connect denied" &&
          r.detail.find("denied in-kernel by host cgroup/connect4 (EPERM): connect to " + target) != std::string::npos &&
          r.detail.find("host pid " + std::to_string(child)) != std::string::npos)
        return true;
    return false;
  };
  auto enforced_alert = [&] {
    auto hits = suite_->alerts_where([&](const policy::Alert& al) {
      return al.rule == "Sandbox VMM INET connect denied" && al.enforced && !al.events.empty() &&
             al.events.back().proc.pid == static_cast<uint32_t>(child);
    });
    return !hits.empty();
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!(refusal_audited() && enforced_alert()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(refusal_audited()) << suite_->dump();
  EXPECT_TRUE(enforced_alert()) << suite_->dump();
  EXPECT_GE(suite_->monitor_->stats().actions.host_refusals, 1u);
}

}  // namespace
}  // namespace kata_sentry::monitor

namespace kata_sentry::monitor {
namespace {

// Host stage 2, raw memory: "Sandbox VMM raw memory device" puts char 1:1 (/dev/mem) into the
// cgroup/dev program, so even a node made elsewhere with mknod is refused, at the mknod.
TEST_F(Enforce, HostMknodOfDevMemFromTheVmmCgroupFailsWithEperm) {
  auto cgroup = suite_->sandbox_->vm().host_cgroup();
  ASSERT_FALSE(cgroup.empty());
  const std::string node = "/tmp/ks-attack-mem-" + std::to_string(::getpid());
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) _exit(200);
    if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 1)) == 0) _exit(0);
    _exit(errno);
  }
  ::close(go[0]);
  auto joined = cgroup2_add(cgroup, child);
  ASSERT_TRUE(joined) << joined.error().describe();
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int st = 0;
  ::waitpid(child, &st, 0);
  ::unlink(node.c_str());
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), EPERM);
  auto audited = [&] {
    for (const auto& r : suite_->audits())
      if (r.ok && r.rule == "Sandbox VMM raw memory device" &&
          r.detail.find("denied in-kernel by host cgroup/dev (EPERM): mknod of char device 1:1 (host pid " +
                        std::to_string(child)) != std::string::npos)
        return true;
    return false;
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!audited() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(audited()) << suite_->dump();
}

}  // namespace
}  // namespace kata_sentry::monitor
