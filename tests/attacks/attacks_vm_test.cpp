// vm tier, issue 5: real escape techniques inside privileged containers of a booted sandbox,
// watched by the SandboxMonitor with the default rules. One sandbox per suite (a TCG boot costs
// seconds): Monitor (monitor mode: every attack raises its alert; host stage 2; the sequence;
// the benign workload raises none) and Enforce (deny rules pushed: the operation fails with
// EPERM and an audit record says so).
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
#include <filesystem>
#include <fstream>
#include <functional>
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
    // The sensor must be streaming before the first attack, or the test proves nothing.
    if (!monitor_->flush(10s)) return "the guest sensor sends no heartbeats (StreamEvents not served?)";
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

// ------------------------------------------------------------------ monitor mode

class Monitor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = new AttackSuite(policy::Mode::monitor);
    error_ = suite_->boot();
  }
  static void TearDownTestSuite() {
    suite_->teardown();
    delete suite_;
  }
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

TEST_F(Monitor, BenignWorkloadRaisesNoAlert) {
  size_t before = suite_->alert_count();
  auto o = suite_->run("benign",
                       {"sh", "-c",
                        "set -e; mkdir -p /tmp/www; echo hello > /tmp/www/index.html; cp /tmp/www/index.html /tmp/copy;"
                        " ls -l /tmp | wc -l; grep -c hello /tmp/copy; sort /etc/passwd | head -n1; date; uname -a;"
                        " ip link set lo up 2>/dev/null || true; httpd -p 127.0.0.1:8080 -h /tmp/www;"
                        " wget -q -O - http://127.0.0.1:8080/index.html; rm -rf /tmp/www /tmp/copy"},
                       /*privileged=*/true);  // the container's netns has lo down; only a privileged one may raise it
  EXPECT_EQ(o.code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("hello"), std::string::npos) << "the loopback HTTP request failed: " << o.out << o.err;
  EXPECT_EQ(suite_->alert_count(), before) << suite_->dump();
}

// One write, one alert: the sensor's openat and file_open records of the write are joined.
TEST_F(Monitor, CorePatternWrite) {
  expect_guest_alert("core-pattern", {"sh", "-c", "echo '|/x' > /proc/sys/kernel/core_pattern"}, "Guest core_pattern write");
  EXPECT_EQ(suite_->alerts_in("core-pattern").size(), 1u) << suite_->dump();
}

// An attacker's first move used to be a file name that is not UTF-8: the host refused the
// guest's whole stream, and the core_pattern write after it went unseen.
TEST_F(Monitor, CorePatternWriteAfterANonUtf8FileNameIsStillAlerted) {
  expect_guest_alert("blind-first",
                     {"sh", "-c",
                      "f=\"/tmp/$(printf '\\377\\376')x\"; touch \"$f\"; cat \"$f\"; echo '|/x' > /proc/sys/kernel/core_pattern"},
                     "Guest core_pattern write");
  EXPECT_EQ(suite_->monitor_->stats().guest.batches_dropped(), 0u) << "the honest agent's batches were refused";
}

TEST_F(Monitor, ShadowRead) {
  expect_guest_alert("shadow", {"cat", "/etc/shadow"}, "Guest read of sensitive file");
  EXPECT_EQ(suite_->alerts_in("shadow").size(), 1u) << suite_->dump();
}

TEST_F(Monitor, ReleaseAgentWrite) {
  expect_guest_alert("release-agent",
                     {"sh", "-c", "mkdir -p /tmp/cg && mount -t cgroup -o none,name=ks cgroup /tmp/cg && echo /x > /tmp/cg/release_agent"},
                     "Guest cgroup release_agent write", [](OciSpec& spec) {
                       // A new v1 hierarchy can only be mounted from the initial cgroup namespace,
                       // which is what a container sharing the guest's cgroup namespace has.
                       std::erase_if(spec.linux.namespaces, [](const OciNamespace& n) { return n.type == "cgroup"; });
                     });
}

TEST_F(Monitor, ModuleLoad) { expect_guest_alert("finit-module", {"ks-attack", "finit-module"}, "Guest kernel module load"); }

TEST_F(Monitor, BpfCall) { expect_guest_alert("bpf", {"ks-attack", "bpf"}, "Guest bpf by workload"); }

TEST_F(Monitor, PtraceAttach) { expect_guest_alert("ptrace", {"ks-attack", "ptrace"}, "Guest ptrace of the agent"); }

TEST_F(Monitor, BlockDeviceNode) {
  expect_guest_alert("mknod", {"mknod", "/tmp/disk", "b", "8", "0"}, "Guest block device node created");
}

TEST_F(Monitor, BlockDeviceMount) {
  expect_guest_alert("mount-dev", {"sh", "-c", "mkdir -p /tmp/m; mount -t ext4 /dev/vda /tmp/m"},
                     "Guest mount of block device or debugfs");
}

TEST_F(Monitor, MemfdExec) { expect_guest_alert("memfd", {"ks-attack", "memfd-exec"}, "Guest exec from memfd or /dev/shm"); }

TEST_F(Monitor, UnshareUser) { expect_guest_alert("unshare", {"unshare", "-U", "true"}, "Guest user namespace unshare"); }

TEST_F(Monitor, VsockConnect) {
  // This guest has no vsock transport (the agent channel is virtio-serial), so socket(AF_VSOCK)
  // fails before any connect; the rule's other half, opening the agent's port, is the attack here.
  expect_guest_alert("vsock", {"sh", "-c", "ks-attack vsock; for p in /dev/vport*; do head -c 0 $p; done; true"},
                     "Guest connect to vsock or the agent channel");
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
  static void SetUpTestSuite() {
    suite_ = new AttackSuite(policy::Mode::enforce);
    error_ = suite_->boot();
  }
};

TEST_F(Enforce, CorePatternWriteFailsWithEperm) {
  auto o = suite_->run("core-pattern-enf", {"sh", "-c", "echo '|/x' > /proc/sys/kernel/core_pattern"});
  EXPECT_NE(o.code, 0);
  EXPECT_NE((o.out + o.err).find("not permitted"), std::string::npos) << o.out << o.err;
  // One alert for the write, and it says the LSM blocked it (the deny rule is folded in).
  auto all = suite_->alerts_in("core-pattern-enf");
  ASSERT_EQ(all.size(), 1u) << suite_->dump();
  EXPECT_EQ(all[0].rule, "Guest core_pattern write");
  EXPECT_TRUE(all[0].enforced) << suite_->dump();
  EXPECT_EQ(all[0].also_matched, std::vector<std::string>{"Guest core_pattern open denied"});
  size_t audited = 0;
  for (const auto& r : suite_->audits())
    audited += r.ok && r.detail.find("denied in-kernel by guest LSM") != std::string::npos &&
               r.detail.find("/proc/sys/kernel/core_pattern") != std::string::npos &&
               r.detail.find("core-pattern-enf") != std::string::npos;
  EXPECT_EQ(audited, 1u) << suite_->dump();
}

TEST_F(Enforce, ShadowReadFailsWithEperm) {
  auto o = suite_->run("shadow-enf", {"cat", "/etc/shadow"});
  EXPECT_NE(o.code, 0);
  EXPECT_NE((o.out + o.err).find("not permitted"), std::string::npos) << o.out << o.err;
  EXPECT_EQ(o.out.find("root:"), std::string::npos) << "the hash leaked: " << o.out;
  auto hits = suite_->alerts_in("shadow-enf");
  ASSERT_EQ(hits.size(), 1u) << suite_->dump();
  EXPECT_EQ(hits[0].rule, "Guest read of sensitive file");
  EXPECT_EQ(hits[0].events.back().container_id, "shadow-enf");
  EXPECT_TRUE(hits[0].enforced);
  EXPECT_EQ(hits[0].view, View::guest);
  EXPECT_EQ(hits[0].sandbox, suite_->sandbox_->id());
  bool audited = false;
  for (const auto& r : suite_->audits())
    audited |= r.ok && r.rule == "Guest read of sensitive file" && r.detail.find("denied in-kernel by guest LSM") != std::string::npos &&
               r.detail.find("/etc/shadow") != std::string::npos;
  EXPECT_TRUE(audited) << suite_->dump();
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
