// Host tests of the container launcher (root; the "bpf" tier is the root-on-the-host tier).
// Each test runs real containers from a static busybox rootfs built once per run, with its
// cgroup under /sys/fs/cgroup/unified/ks-test-<pid>, and checks that nothing is left behind.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <sstream>
#include <thread>

#include "agent/container/container.h"
#include "tests/support/busybox_rootfs.h"

namespace kata_sentry::agent {
namespace {
namespace fs = std::filesystem;

std::string slurp_fd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, size_t(n));
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ContainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    bundle_ = fs::temp_directory_path() / ("ks-ct-bundle-" + std::to_string(::getpid()));
    rootfs_error_ = testing::make_busybox_rootfs(bundle_ / "rootfs", {"mnt"});
    cgroup_parent_ = "/sys/fs/cgroup/unified/ks-test-" + std::to_string(::getpid());
  }

  static void TearDownTestSuite() {
    if (!bundle_.empty()) fs::remove_all(bundle_);
    if (!cgroup_parent_.empty()) ::rmdir(cgroup_parent_.c_str());
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) to create namespaces and mounts";
    ASSERT_EQ(rootfs_error_, "");
  }

  void TearDown() override {
    if (bundle_.empty()) return;  // skipped: not root
    // Every container cgroup must be gone, and no mount of ours visible in the test's namespace.
    if (fs::exists(cgroup_parent_))
      for (const auto& e : fs::directory_iterator(cgroup_parent_))
        if (e.is_directory()) ADD_FAILURE() << "leftover cgroup " << e.path();
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(bundle_.string()), std::string::npos) << "leftover mount";
  }

  OciSpec spec(std::vector<std::string> args, bool privileged = false) {
    OciSpec s = default_oci_spec(std::move(args), privileged);
    s.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev"}});
    return s;
  }

  LaunchOptions options(const std::string& id) {
    LaunchOptions o;
    o.container_id = id + "-" + std::to_string(::getpid());
    o.bundle_dir = bundle_;
    o.cgroup_parent = cgroup_parent_;
    return o;
  }

  struct RunResult {
    int status = -1;
    std::string out;
  };

  // Starts the container with stdout+stderr on a pipe, reads to EOF, waits.
  RunResult run(const OciSpec& s, const std::string& id) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    LaunchOptions o = options(id);
    o.stdio.out = p[1];
    o.stdio.err = p[1];
    auto c = create_container(s, o);
    ::close(p[1]);
    RunResult r;
    if (!c) {
      ::close(p[0]);
      ADD_FAILURE() << c.error().describe();
      return r;
    }
    r.out = slurp_fd(p[0]);
    ::close(p[0]);
    auto st = (*c)->wait();
    EXPECT_TRUE(st) << st.error().describe();
    r.status = st.value_or(-1);
    return r;
  }

  static fs::path bundle_;
  static fs::path cgroup_parent_;
  static std::string rootfs_error_;
};

fs::path ContainerTest::bundle_;
fs::path ContainerTest::cgroup_parent_;
std::string ContainerTest::rootfs_error_;

TEST_F(ContainerTest, EchoReachesStdoutPipe) {
  auto r = run(spec({"echo", "hello"}), "echo");
  EXPECT_EQ(r.out, "hello\n");
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 0);
}

TEST_F(ContainerTest, ExitCodePropagatesExactly) {
  auto r = run(spec({"sh", "-c", "exit 7"}), "exit7");
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 7);
}

TEST_F(ContainerTest, KillBySignalGivesExactTermsig) {
  auto c = create_container(spec({"sleep", "100"}), options("sig"));
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_FALSE((*c)->try_wait());
  ASSERT_TRUE((*c)->signal(SIGKILL));
  auto st = (*c)->wait();
  ASSERT_TRUE(st);
  ASSERT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(WTERMSIG(*st), SIGKILL);
  EXPECT_EQ((*c)->try_wait(), st.value());  // stable after reaping
}

TEST_F(ContainerTest, SignalReachesInitWithHandler) {
  // PID 1 ignores default-action signals, so the workload installs a handler, as real inits do.
  auto s = spec({"sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"});
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  LaunchOptions o = options("term");
  o.stdio.out = p[1];
  auto c = create_container(s, o);
  ::close(p[1]);
  ASSERT_TRUE(c) << c.error().describe();
  char buf[6] = {};
  ASSERT_EQ(::read(p[0], buf, 6), 6);
  ::close(p[0]);
  ASSERT_TRUE((*c)->signal(SIGTERM));
  auto st = (*c)->wait();
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 42);
}

TEST_F(ContainerTest, WithoutPidNamespaceSigtermKills) {
  auto s = spec({"sleep", "100"});
  std::erase_if(s.linux.namespaces, [](const OciNamespace& n) { return n.type == "pid"; });
  auto c = create_container(s, options("nopidns"));
  ASSERT_TRUE(c) << c.error().describe();
  ASSERT_TRUE((*c)->signal(SIGTERM));
  auto st = (*c)->wait();
  ASSERT_TRUE(st && WIFSIGNALED(*st));
  EXPECT_EQ(WTERMSIG(*st), SIGTERM);
}

TEST_F(ContainerTest, ReadonlyRootfsRefusesWrites) {
  auto s = spec({"sh", "-c", "touch /newfile; echo rc=$?; touch /tmp/ok && echo tmp-ok"});
  s.root.readonly = true;
  auto r = run(s, "ro");
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tmp-ok"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(bundle_ / "rootfs/newfile"));
}

TEST_F(ContainerTest, DroppedCapabilitiesVisibleInProcStatus) {
  auto r = run(spec({"sh", "-c", "grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status"}), "caps");
  // containerd's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
  // NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
  EXPECT_NE(r.out.find("CapBnd:\t00000000a80425fb"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t00000000a80425fb"), std::string::npos) << r.out;

  auto s = spec({"sh", "-c", "grep -E '^Cap(Bnd|Eff)' /proc/self/status"});
  s.process.capabilities = OciCapabilities{{"CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}, {}, {}};
  r = run(s, "caps2");
  EXPECT_NE(r.out.find("CapBnd:\t0000000000000020"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000020"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, NonRootUserGetsAmbientCapsOnly) {
  auto s = spec({"sh", "-c", "id -u; id -g; id -G; grep -E '^Cap(Eff|Amb)' /proc/self/status"});
  s.process.user = {1000, 1001, {2000, 2001}};
  s.process.capabilities = OciCapabilities{{"CAP_NET_BIND_SERVICE"}, {"CAP_NET_BIND_SERVICE"},
                                           {"CAP_NET_BIND_SERVICE"}, {"CAP_NET_BIND_SERVICE"},
                                           {"CAP_NET_BIND_SERVICE"}};
  auto r = run(s, "uid");
  EXPECT_NE(r.out.find("1000\n1001\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2000 2001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapEff:\t0000000000000400"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CapAmb:\t0000000000000400"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, SeccompDenyMkdirGivesEperm) {
  auto s = spec({"sh", "-c", "mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touch-ok"});
  OciSeccomp sc;
  sc.default_action = "SCMP_ACT_ALLOW";
  sc.architectures = {"SCMP_ARCH_X86_64"};
  sc.syscalls.push_back({{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", std::nullopt, {}});
  s.linux.seccomp = sc;
  auto r = run(s, "seccomp");
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("touch-ok"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, SeccompArgumentComparisonAndErrnoRet) {
  // kill(pid, 0) gets ENOSYS (errnoRet); kill with any other signal stays allowed.
  auto s = spec({"sh", "-c", "kill -0 $$; echo rc=$?; kill -CONT $$ && echo cont-ok"});
  OciSeccomp sc;
  sc.syscalls.push_back({{"kill"}, "SCMP_ACT_ERRNO", 38 /*ENOSYS*/, {{1, 0, 0, "SCMP_CMP_EQ"}}});
  s.linux.seccomp = sc;
  auto r = run(s, "seccomp-args");
  EXPECT_NE(r.out.find("Function not implemented"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cont-ok"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, SeccompWithoutNoNewPrivsForNonRootUser) {
  // Without no_new_privs the filter goes in while the launcher still has CAP_SYS_ADMIN.
  auto s = spec({"sh", "-c", "id -u; mkdir /tmp/x; echo rc=$?; grep NoNewPrivs /proc/self/status"});
  s.process.no_new_privileges = false;
  s.process.user = {1000, 1000, {}};
  OciSeccomp sc;
  sc.syscalls.push_back({{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", std::nullopt, {}});
  s.linux.seccomp = sc;
  auto r = run(s, "seccomp-nnp");
  EXPECT_NE(r.out.find("1000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NoNewPrivs:\t0"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, DefaultProfileDeniesMount) {
  auto r = run(spec({"sh", "-c", "unshare -m true; echo rc=$?"}), "defprof");
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, HostnameEnvCwdRlimit) {
  auto s = spec({"sh", "-c", "hostname; echo $FOO; pwd; ulimit -n"});
  s.hostname = "box1";
  s.process.env.push_back("FOO=bar baz");
  s.process.cwd = "/tmp";
  s.process.rlimits = {{"RLIMIT_NOFILE", 100, 100}};
  auto r = run(s, "misc");
  EXPECT_EQ(r.out, "box1\nbar baz\n/tmp\n100\n");

  s = spec({"sh", "-c", "cat /proc/self/oom_score_adj; umask"});
  s.process.oom_score_adj = 500;
  s.process.user.umask = 077;
  r = run(s, "oom");
  EXPECT_EQ(r.out, "500\n0077\n");
}

TEST_F(ContainerTest, MaskedAndReadonlyPaths) {
  // This host has no /proc/kcore (the guest has); /proc/timer_list and /proc/keys exist here.
  auto s = spec({"sh", "-c",
                 "cat /proc/timer_list | wc -c; cat /proc/keys | wc -c; ls /sys/firmware | wc -l; "
                 "echo x > /proc/sys/kernel/hostname; echo rc=$?"});
  auto r = run(s, "masked");
  EXPECT_EQ(r.out.substr(0, 6), "0\n0\n0\n") << r.out;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, PrivilegedHasFullCapsAndNoMasks) {
  // "All capabilities" is all the launcher holds: this host's bounding set lacks CAP_SYS_RESOURCE.
  std::string own = read_text("/proc/self/status");
  own = own.substr(own.find("CapBnd:"), 24);
  auto r = run(spec({"sh", "-c", "grep CapBnd /proc/self/status; head -c 4 /proc/timer_list | wc -c"}, true), "priv");
  EXPECT_NE(r.out.find(own), std::string::npos) << r.out << " want " << own;
  EXPECT_NE(r.out.find("\n4\n"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, NoFdLeaksIntoContainer) {
  int leak = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leak, 0);
  int high = ::dup2(leak, 77);
  auto r = run(spec({"sh", "-c", "ls /proc/self/fd | wc -l; [ -e /proc/self/fd/77 ] && echo leaked || echo clean"}),
               "fds");
  ::close(leak);
  ::close(high);
  // 0, 1, 2 and ls's own directory fd.
  EXPECT_EQ(r.out, "4\nclean\n");
}

TEST_F(ContainerTest, ExecJoinsRunningContainer) {
  auto s = spec({"sleep", "100"});
  s.hostname = "execbox";
  auto c = create_container(s, options("exec"));
  ASSERT_TRUE(c) << c.error().describe();

  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  OciProcess proc = s.process;
  proc.args = {"sh", "-c", "hostname; cat /proc/1/comm; echo $$; cat /proc/self/cgroup; exit 3"};
  auto e = (*c)->exec(proc, StdioFds{-1, p[1], p[1]});
  ::close(p[1]);
  ASSERT_TRUE(e) << e.error().describe();
  std::string out = slurp_fd(p[0]);
  ::close(p[0]);
  auto st = (*e)->wait();
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 3);
  EXPECT_EQ(out.substr(0, out.find('\n', out.find('\n') + 1) + 1), "execbox\nsleep\n") << out;
  EXPECT_NE(out.find("\n2\n"), std::string::npos) << out;  // second process of the pid namespace
  EXPECT_NE(out.find("0::/\n"), std::string::npos) << out;  // the container's cgroup namespace root

  auto bad = (*c)->exec(OciProcess{.args = {"/bin/nosuch"}, .cwd = "/"}, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("execve /bin/nosuch"), std::string::npos) << bad.error().message;

  auto stats = (*c)->stats();
  ASSERT_TRUE(stats) << stats.error().describe();
  EXPECT_TRUE(stats->cpu_usage_usec.has_value());
  ASSERT_TRUE((*c)->signal(SIGKILL));
  (void)(*c)->wait();
  auto late = (*c)->exec(proc, {});
  EXPECT_FALSE(late);
}

TEST_F(ContainerTest, DestructionKillsAndCleansUp) {
  fs::path cg;
  pid_t pid;
  {
    auto c = create_container(spec({"sh", "-c", "sleep 100 & sleep 100"}), options("dtor"));
    ASSERT_TRUE(c) << c.error().describe();
    cg = (*c)->cgroup_path();
    pid = (*c)->pid();
    EXPECT_TRUE(fs::exists(cg));
    EXPECT_NE(read_text(cg / "cgroup.procs").find(std::to_string(pid)), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(cg));
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST_F(ContainerTest, PreExecFailureNamesTheStep) {
  auto c = create_container(spec({"/bin/nosuch"}), options("noexec"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::not_found);
  EXPECT_NE(c.error().message.find("execve /bin/nosuch"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().describe().find("No such file or directory"), std::string::npos);

  c = create_container(spec({"nosuch-in-path"}), options("nopath"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("execve nosuch-in-path (searched PATH)"), std::string::npos) << c.error().message;

  auto s = spec({"true"});
  s.mounts.push_back({"/mnt/x", "nosuchfs", "none", {}});
  c = create_container(s, options("badfs"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("mount nosuchfs on /mnt/x"), std::string::npos) << c.error().message;

  s = spec({"true"});
  s.process.cwd = "/does/not/exist";
  c = create_container(s, options("badcwd"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("chdir /does/not/exist"), std::string::npos) << c.error().message;
}

TEST_F(ContainerTest, BadSpecGetsClearErrorBeforeClone) {
  auto s = spec({"true"});
  s.hostname = "h";
  std::erase_if(s.linux.namespaces, [](const OciNamespace& n) { return n.type == "uts"; });
  auto c = create_container(s, options("nouts"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(c.error().message.find("hostname: setting it requires a new uts namespace"), std::string::npos);

  s = spec({"true"});
  s.root.path = "no-such-rootfs";
  c = create_container(s, options("noroot"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("root.path: "), std::string::npos) << c.error().message;

  s = spec({"true"});
  s.mounts.push_back({"/data", "bind", "/no/such/source", {"rbind", "ro"}});
  c = create_container(s, options("nosrc"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(".source: bind source /no/such/source"), std::string::npos) << c.error().message;

  s = spec({"true"});
  s.linux.resources.memory_limit = 1 << 20;  // the host's cgroup2 offers only hugetlb
  c = create_container(s, options("nomem"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::unavailable);
  EXPECT_NE(c.error().message.find("controller memory not available"), std::string::npos) << c.error().message;

  auto bad = create_container(s, LaunchOptions{.container_id = "../evil", .bundle_dir = bundle_});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("container id"), std::string::npos);
}

TEST_F(ContainerTest, BindMountReadonlyOption) {
  fs::path src = bundle_ / "share";
  fs::create_directories(src);
  std::ofstream(src / "f") << "content\n";
  // A submount inside the source: "rbind,ro" must make it read-only too.
  fs::create_directories(src / "sub");
  fs::path sub = bundle_ / "subsrc";
  fs::create_directories(sub);
  auto s = spec({"sh", "-c", "cat /data/f; touch /data/g; echo rc=$?; touch /data/sub/h; echo sub-rc=$?"});
  s.mounts.push_back({"/data", "bind", src.string(), {"rbind", "ro", "nosuid"}});
  // Mounted here for the run only: the container's rbind copies it into its own namespace.
  ASSERT_EQ(::mount(sub.c_str(), (src / "sub").c_str(), nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
  auto r = run(s, "bind");
  ::umount2((src / "sub").c_str(), MNT_DETACH);
  EXPECT_NE(r.out.find("content\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sub-rc=1"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(src / "g"));
  EXPECT_FALSE(fs::exists(sub / "h"));
}

TEST_F(ContainerTest, UserNamespaceMapsIds) {
  auto s = spec({"sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /newfile; echo rc=$?; exec true"});
  s.linux.namespaces.push_back({"user", ""});
  s.linux.uid_mappings = {{0, 200000, 65536}};
  s.linux.gid_mappings = {{0, 200000, 65536}};
  auto r = run(s, "userns");
  // uid 0 inside maps to 200000 outside; the rootfs belongs to the unmapped host root.
  EXPECT_NE(r.out.find("0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("200000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Permission denied"), std::string::npos) << r.out;
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 0);
}

TEST_F(ContainerTest, ExecIntoUserNamespaceContainer) {
  auto s = spec({"sleep", "100"});
  s.linux.namespaces.push_back({"user", ""});
  s.linux.uid_mappings = {{0, 300000, 65536}};
  s.linux.gid_mappings = {{0, 300000, 65536}};
  auto c = create_container(s, options("userns-exec"));
  ASSERT_TRUE(c) << c.error().describe();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  OciProcess proc = s.process;
  proc.user = {5, 6, {}};
  proc.args = {"sh", "-c", "id -u; id -g; head -1 /proc/self/uid_map"};
  auto e = (*c)->exec(proc, StdioFds{-1, p[1], p[1]});
  ::close(p[1]);
  ASSERT_TRUE(e) << e.error().describe();
  std::string out = slurp_fd(p[0]);
  ::close(p[0]);
  EXPECT_NE(out.find("5\n6\n"), std::string::npos) << out;
  EXPECT_NE(out.find("300000"), std::string::npos) << out;
  auto st = (*e)->wait();
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
}

TEST_F(ContainerTest, SysctlInOwnNetworkNamespace) {
  auto s = spec({"cat", "/proc/sys/net/ipv4/ip_forward"});
  s.linux.sysctl["net.ipv4.ip_forward"] = "1";
  auto r = run(s, "sysctl");
  EXPECT_EQ(r.out, "1\n");
}

TEST_F(ContainerTest, WaitInOneThreadSignalFromAnother) {
  auto c = create_container(spec({"sleep", "100"}), options("threads-wait"));
  ASSERT_TRUE(c) << c.error().describe();
  Result<int> status = fail(ErrorCode::internal, "not waited");
  std::thread waiter([&] { status = (*c)->wait(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE((*c)->signal(SIGKILL));
  waiter.join();
  ASSERT_TRUE(status) << status.error().describe();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  auto again = (*c)->signal(SIGKILL);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().sys_errno, ESRCH);
}

// The guest agent runs from the initramfs, where pivot_root fails with EINVAL. Reproduce that
// here: launch from a process chrooted into a directory that is not a mount point (pivot_root
// then also says EINVAL) and check the MS_MOVE + chroot fallback runs the container correctly.
TEST_F(ContainerTest, PivotRootFallbackWhenRootIsNotAMount) {
  const fs::path jail = bundle_ / "jail";
  for (const char* d : {"proc", "sys", "dev", "bundle/rootfs"}) fs::create_directories(jail / d);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto step = [](bool ok, const char* what) {
      if (!ok) {
        std::fprintf(stderr, "jail setup: %s: %s\n", what, std::strerror(errno));
        ::_exit(90);
      }
    };
    step(::unshare(CLONE_NEWNS) == 0, "unshare");
    step(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, "rprivate");
    for (const char* d : {"proc", "sys", "dev"})
      step(::mount((std::string("/") + d).c_str(), (jail / d).c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0, d);
    step(::mount((bundle_ / "rootfs").c_str(), (jail / "bundle/rootfs").c_str(), nullptr, MS_BIND, nullptr) == 0, "rootfs");
    step(::chroot(jail.c_str()) == 0 && ::chdir("/") == 0, "chroot");
    LaunchOptions o = options("fallback");
    o.bundle_dir = "/bundle";
    o.stdio.out = p[1];
    OciSpec s = spec({"sh", "-c", "echo moved; ls /bundle 2>&1 | head -1; grep -c ' / ' /proc/self/mountinfo"});
    s.root.readonly = true;
    auto c = create_container(s, o);
    if (!c) {
      std::fprintf(stderr, "%s\n", c.error().describe().c_str());
      ::_exit(91);
    }
    auto st = (*c)->wait();
    c->reset();
    ::_exit(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : 92);
  }
  ::close(p[1]);
  std::string out = slurp_fd(p[0]);
  ::close(p[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  fs::remove_all(jail);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("moved\n"), std::string::npos) << out;
  EXPECT_NE(out.find("No such file or directory"), std::string::npos) << out;  // jail's /bundle unreachable
}

// Reads a pty master until the slave side is gone (EIO).
std::string slurp_console(int fd) {
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) out.append(buf, size_t(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;
  }
  return out;
}

TEST_F(ContainerTest, TerminalGivesContainerPtyAndConsoleFd) {
  auto s = spec({"sh", "-c", "tty; [ -t 0 ] && echo stdin-is-tty; sleep 100"});
  s.process.terminal = true;
  auto c = create_container(s, options("tty"));
  ASSERT_TRUE(c) << c.error().describe();
  ASSERT_GE((*c)->console_fd(), 0);
  std::string out;
  for (int i = 0; i < 100 && out.find("stdin-is-tty\r\n") == std::string::npos; ++i) {
    struct pollfd pfd{(*c)->console_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 50) == 1) {
      char buf[256];
      ssize_t n = ::read((*c)->console_fd(), buf, sizeof buf);
      if (n > 0) out.append(buf, size_t(n));
    }
  }
  EXPECT_NE(out.find("/dev/pts/0\r\nstdin-is-tty\r\n"), std::string::npos) << out;

  OciProcess p = s.process;
  p.args = {"sh", "-c", "read line; echo got:$line; tty"};
  auto e = (*c)->exec(p, {});
  ASSERT_TRUE(e) << e.error().describe();
  ASSERT_GE((*e)->console_fd(), 0);
  ASSERT_EQ(::write((*e)->console_fd(), "abc\n", 4), 4);
  std::string exec_out = slurp_console((*e)->console_fd());
  auto st = (*e)->wait();
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << exec_out;
  EXPECT_NE(exec_out.find("got:abc\r\n/dev/pts/1\r\n"), std::string::npos) << exec_out;

  ASSERT_TRUE((*c)->signal(SIGKILL));
  (void)slurp_console((*c)->console_fd());  // EIO once the init is gone
}

TEST_F(ContainerTest, ReapChildrenKeepsContainerStatuses) {
  // An agent as PID 1 reaps everything; exit statuses of containers and execs must survive it.
  std::atomic<bool> stop{false};
  std::atomic<int> reaped{0};
  std::thread reaper([&] {
    while (!stop) {
      reaped += reap_children();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  pid_t orphan = ::fork();  // a child nobody owns: reap_children() must collect it
  if (orphan == 0) ::_exit(0);
  for (int i = 0; i < 8; ++i) {
    auto c = create_container(spec({"sh", "-c", "exit " + std::to_string(10 + i)}), options("reap" + std::to_string(i)));
    ASSERT_TRUE(c) << c.error().describe();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the reaper win the race
    auto st = (*c)->wait();
    ASSERT_TRUE(st) << st.error().describe();
    ASSERT_TRUE(WIFEXITED(*st));
    EXPECT_EQ(WEXITSTATUS(*st), 10 + i);
  }
  auto c = create_container(spec({"sleep", "100"}), options("reap-exec"));
  ASSERT_TRUE(c) << c.error().describe();
  OciProcess p = default_oci_spec({"sh", "-c", "exit 33"}, false).process;
  auto e = (*c)->exec(p, {});
  ASSERT_TRUE(e) << e.error().describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto st = (*e)->wait();
  ASSERT_TRUE(st && WIFEXITED(*st)) << (st ? "" : st.error().describe());
  EXPECT_EQ(WEXITSTATUS(*st), 33);
  stop = true;
  reaper.join();
  EXPECT_GE(reaped.load(), 1);
  EXPECT_EQ(::waitpid(orphan, nullptr, WNOHANG), -1);  // already reaped
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ContainerTest, DeviceRulesDenyUnlistedDevices) {
  // CAP_MKNOD is in the default set, so without a device program /dev/mem would be one mknod
  // away. mknod is allowed (like runc), opening what is not listed is not.
  auto r = run(spec({"sh", "-c",
                     "rm -f /mem /zero2; mknod /mem c 1 1 && echo mknod-ok; head -c 1 /mem > /dev/null; "
                     "echo rc=$?; mknod /zero2 c 1 5; head -c 3 /zero2 | wc -c; echo x > /dev/null && echo null-ok; "
                     "rm -f /mem /zero2"}),
               "devices");
  EXPECT_NE(r.out.find("mknod-ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n3\n"), std::string::npos) << r.out;  // 1:5 (zero) is listed
  EXPECT_NE(r.out.find("null-ok"), std::string::npos) << r.out;

  // privileged: every device; /dev/kmsg's number (1:11) opens.
  r = run(spec({"sh", "-c", "rm -f /kmsg2; mknod /kmsg2 c 1 11 && : < /kmsg2 && echo open-ok; rm -f /kmsg2"}, true),
          "devices-priv");
  EXPECT_NE(r.out.find("open-ok"), std::string::npos) << r.out;

  // Order and access: allow everything, then deny writes to 10:229 (fuse; opened, never written;
  // not among runc's defaults). Reads still open.
  const std::string script =
      "rm -f /fuse2; mknod /fuse2 c 10 229; : < /fuse2 && echo read-ok; : > /fuse2 && echo write-ok; rm -f /fuse2";
  auto s = spec({"sh", "-c", script});
  s.linux.resources.devices = {{true, "a", std::nullopt, std::nullopt, "rwm"}, {false, "c", 10, 229, "w"}};
  r = run(s, "devices-order");
  EXPECT_NE(r.out.find("read-ok"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("write-ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;

  // A CRI plugin spec denies every device and lists none; runc's defaults still apply (after the
  // spec's rules), or a Kubernetes container could not even write to /dev/null.
  s = spec({"sh", "-c", "echo x > /dev/null && head -c 3 /dev/urandom | wc -c && : < /dev/tty; echo tty-rc=$?"});
  s.linux.resources.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  r = run(s, "devices-cri");
  EXPECT_NE(r.out.find("3\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Operation not permitted"), std::string::npos) << r.out;

  // No rules at all: no program.
  s = spec({"sh", "-c", script});
  s.linux.resources.devices.clear();
  r = run(s, "devices-none");
  EXPECT_NE(r.out.find("read-ok\nwrite-ok"), std::string::npos) << r.out;
}

TEST_F(ContainerTest, LaunchesWhileOtherThreadsAllocate) {
  // The agent is multithreaded: the child must not touch malloc or glibc's thread-list locks.
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      while (!stop) {
        std::vector<std::string> junk(64, std::string(200, 'x'));
        std::this_thread::yield();
      }
    });
  for (int i = 0; i < 15; ++i) {
    auto r = run(spec({"true"}), "threads" + std::to_string(i));
    ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << i;
  }
  stop = true;
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace kata_sentry::agent
