// Privileged tests: load the real host probes, trigger real syscalls from a forked child
// and assert on the decoded events of that child's process tree only (the machine is
// shared: other sessions' processes are traced by the same kernel).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/event_decode.h"
#include "core/event_json.h"
#include "syscall-probes/syscall_probes.h"
#include "syscall-probes/proc_table.h"
#include "host-probes/trace.h"
#include "kata_sentry/event_abi.h"

namespace kata_sentry::probes {
namespace {

// CAP_BPF (or CAP_SYS_ADMIN on older kernels) plus CAP_PERFMON for tracepoints.
std::string missing_capability() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return "capget failed";
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
  if (!has(CAP_SYS_ADMIN) && !(has(CAP_BPF) && has(CAP_PERFMON))) return "needs CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN";
  return "";
}

#define REQUIRE_BPF_CAPS()                                   \
  do {                                                       \
    if (auto why = missing_capability(); !why.empty())       \
      GTEST_SKIP() << why;                                   \
  } while (0)

// A forked child that waits until the parent has set up the scope, then runs `body`
// and exits with its return value. The destructor reaps it whatever happens.
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      char go;
      if (read(fds[0], &go, 1) != 1) _exit(99);
      _exit(body());
    }
    close(fds[0]);
    go_fd_ = fds[1];
  }
  ~Child() {
    if (go_fd_ >= 0) close(go_fd_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void start() {
    char go = 1;
    (void)!write(go_fd_, &go, 1);
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_fd_ = -1;
  bool reaped_ = false;
};

struct Trace {
  std::vector<Event> events;  // of the child's process tree, enriched
  int status = 0;
};

// Polls until the procexit of `root` arrives (or 10 s pass); keeps the events of root's tree,
// and the others in `outside` if given. The ring buffer hands records over in the order they were
// written, so when root's procexit arrives, everything written before it has arrived too.
std::vector<Event> collect_tree(SyscallProbes& probes, uint32_t root, std::vector<Event>* outside = nullptr) {
  BootClock clock;
  ProcTable table;
  std::set<uint32_t> tree{root};
  std::vector<Event> out;
  bool root_exited = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!root_exited && std::chrono::steady_clock::now() < deadline) {
    auto n = probes.poll(100, [&](std::span<const uint8_t> record) {
      auto e = decode_event(record, View::host, clock);
      EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().describe());
      if (!e) return;
      table.enrich(*e);
      table.update(*e);
      if (!tree.count(e->proc.pid)) {
        if (outside) outside->push_back(std::move(*e));
        return;
      }
      if (e->type == EventType::clone && !(e->arg_or(1) & 0x00010000)) tree.insert(static_cast<uint32_t>(e->arg_or(0)));
      if (e->type == EventType::procexit && e->proc.pid == root) root_exited = true;
      out.push_back(std::move(*e));
    });
    EXPECT_TRUE(n.has_value());
  }
  EXPECT_TRUE(root_exited) << "no procexit for pid " << root << " within 10 s";
  return out;
}

// Runs `body` in a watched child and returns its tree's events; the child must exit 0.
std::vector<Event> events_of_watched_child(SyscallProbes& probes, const std::function<int()>& body) {
  Child child(body);
  EXPECT_TRUE(probes.watch_tgid(static_cast<uint32_t>(child.pid())).has_value());
  child.start();
  auto events = collect_tree(probes, static_cast<uint32_t>(child.pid()));
  EXPECT_EQ(child.wait(), 0);
  return events;
}

std::unique_ptr<SyscallProbes> open_scoped() {
  SyscallProbesOptions o;
  o.scope_enabled = true;
  auto p = SyscallProbes::open(o);
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().describe());
  return p ? std::move(*p) : nullptr;
}

Trace run_watched(const std::function<int()>& body) {
  Trace t;
  auto probes = open_scoped();
  if (!probes) return t;
  Child child(body);
  EXPECT_TRUE(probes->watch_tgid(static_cast<uint32_t>(child.pid())).has_value());
  child.start();
  t.events = collect_tree(*probes, static_cast<uint32_t>(child.pid()));
  t.status = child.wait();
  return t;
}

const Event* find(const std::vector<Event>& events, const std::function<bool(const Event&)>& pred) {
  for (const auto& e : events)
    if (pred(e)) return &e;
  return nullptr;
}

TEST(HostProbesBpf, ExecOfAKnownBinaryWithArguments) {
  REQUIRE_BPF_CAPS();
  auto t = run_watched([] {
    pid_t p = fork();
    if (p == 0) {
      char* const argv[] = {const_cast<char*>("true"), const_cast<char*>("alpha"), const_cast<char*>("beta"), nullptr};
      execv("/bin/true", argv);
      _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  });
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
  const Event* exec = find(t.events, [](const Event& e) { return e.type == EventType::execve; });
  ASSERT_NE(exec, nullptr) << t.events.size() << " events, none an execve";
  EXPECT_TRUE(exec->has_res);
  EXPECT_EQ(exec->res, 0);
  EXPECT_EQ(exec->proc.name, "true");
  EXPECT_EQ(exec->proc.cmdline(), "true alpha beta");
  EXPECT_TRUE(exec->proc.exepath == "/bin/true" || exec->proc.exepath == "/usr/bin/true") << exec->proc.exepath;
  EXPECT_EQ(exec->path, "/bin/true");
  EXPECT_NE(exec->proc.ppid, 0u);
  EXPECT_NE(exec->proc.cgroup_id, 0u);
  EXPECT_NE(exec->proc.pid_ns, 0u);
  EXPECT_NE(exec->proc.mnt_ns, 0u);
  EXPECT_NE(exec->time_ns, 0u);
  // The fork that made the exec'ing process, seen from its parent.
  const Event* clone = find(t.events, [&](const Event& e) {
    return e.type == EventType::clone && e.arg_or(0) == exec->proc.pid;
  });
  ASSERT_NE(clone, nullptr);
  EXPECT_EQ(exec->proc.ppid, clone->proc.pid);
}

// A successful exec carries the new image's whole argv (what /proc/<pid>/cmdline shows, up to
// KS_EXEC_ARGS_LEN bytes), its environment, working directory and resolved executable.
TEST(HostProbesBpf, ExecCarriesFullArgvEnvAndCwd) {
  REQUIRE_BPF_CAPS();
  std::vector<std::string> args{"echo"};
  for (int i = 1; i < 20; ++i) args.push_back("a" + std::to_string(i));  // more than the old 16-argument bound
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char env0[] = "KS_PROBE=yes";
  char* envp[] = {env0, nullptr};
  auto t = run_watched([&] {
    pid_t p = fork();
    if (p == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      if (chdir("/usr/share") != 0) _exit(126);
      execve("/bin/echo", argv.data(), envp);
      _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  });
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
  const Event* exec = find(t.events, [](const Event& e) { return e.type == EventType::execve; });
  ASSERT_NE(exec, nullptr);
  ASSERT_EQ(exec->proc.args.size(), 19u);
  EXPECT_EQ(exec->proc.args.front(), "a1");
  EXPECT_EQ(exec->proc.args.back(), "a19");
  EXPECT_FALSE(exec->proc.args_truncated);
  EXPECT_EQ(exec->proc.cmdline().substr(0, 11), "echo a1 a2 ");
  EXPECT_EQ(exec->proc.env, std::vector<std::string>{"KS_PROBE=yes"});
  EXPECT_EQ(exec->proc.cwd, "/usr/share");
  EXPECT_EQ(exec->proc.exepath, "/usr/bin/echo") << "the file the kernel ran (/bin is a link to usr/bin here)";
  EXPECT_EQ(exec->path, "/bin/echo") << "the name asked for";
  ASSERT_TRUE(exec->proc.caps);
  EXPECT_NE(exec->proc.caps->effective & (1ull << 21), 0u) << "root's CAP_SYS_ADMIN";
}

// An argv longer than the record holds is cut at KS_EXEC_ARGS_LEN bytes and marked: the
// cmdline ends in " ...".
TEST(HostProbesBpf, ExecArgvIsBoundedAndFlagged) {
  REQUIRE_BPF_CAPS();
  std::vector<std::string> args{"echo"};
  for (int i = 0; i < 600; ++i) args.push_back("argument" + std::to_string(i % 10));  // ~6 KiB
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto t = run_watched([&] {
    pid_t p = fork();
    if (p == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execv("/bin/echo", argv.data());
      _exit(127);
    }
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  });
  const Event* exec = find(t.events, [](const Event& e) { return e.type == EventType::execve; });
  ASSERT_NE(exec, nullptr);
  EXPECT_TRUE(exec->proc.args_truncated);
  EXPECT_GT(exec->proc.args.size(), 400u);
  EXPECT_LT(exec->proc.args.size(), 600u);
  EXPECT_EQ(exec->proc.args.front(), "argument0");
  const std::string cmdline = exec->proc.cmdline();
  EXPECT_EQ(cmdline.substr(cmdline.size() - 4), " ...") << cmdline.substr(cmdline.size() - 40);
}

// Datagrams on loopback: sendto/sendmsg carry the destination, recvfrom/recvmsg the sender
// (read at sys_exit, where the kernel has written it), each with the result.
TEST(HostProbesBpf, DatagramAddressesBothWays) {
  REQUIRE_BPF_CAPS();
  auto t = run_watched([] {
    int a = ::socket(AF_INET, SOCK_DGRAM, 0), b = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof to;
    if (::bind(b, reinterpret_cast<sockaddr*>(&to), sizeof to) || ::getsockname(b, reinterpret_cast<sockaddr*>(&to), &len)) return 1;
    char buf[16] = "ping";
    if (::sendto(a, buf, 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != 4) return 2;
    sockaddr_in from{};
    len = sizeof from;
    if (::recvfrom(b, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len) != 4) return 3;
    iovec iov{buf, 4};
    msghdr m{};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (::sendmsg(a, &m, 0) != 4) return 4;
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    iov.iov_len = sizeof buf;
    if (::recvmsg(b, &m, 0) != 4) return 5;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0) << t.status;
  size_t sends = 0, receives = 0;
  for (const auto& e : t.events) {
    if (e.type == EventType::sendto) sends += e.addr.ip == "127.0.0.1" && e.addr.port != 0 && e.res == 4;
    if (e.type == EventType::recvfrom) receives += e.addr.ip == "127.0.0.1" && e.addr.port != 0 && e.res == 4;
  }
  EXPECT_EQ(sends, 2u);
  EXPECT_EQ(receives, 2u);
}

TEST(HostProbesBpf, OpenOfATemporaryPathWithFlagsAndResult) {
  REQUIRE_BPF_CAPS();
  std::string path = "/tmp/ks_host_probes_open_" + std::to_string(getpid());
  std::string missing = path + "_missing/x";
  auto t = run_watched([&] {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return 1;
    close(fd);
    if (open(missing.c_str(), O_RDONLY) >= 0) return 2;
    return 0;
  });
  std::filesystem::remove(path);
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
  const Event* ok = find(t.events, [&](const Event& e) { return e.type == EventType::openat && e.path == path; });
  ASSERT_NE(ok, nullptr);
  EXPECT_TRUE(ok->has_res);
  EXPECT_GE(ok->res, 0);
  EXPECT_EQ(ok->arg_or(0), uint64_t(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC));
  EXPECT_EQ(ok->arg_or(1), 0600u);
  EXPECT_EQ(static_cast<int64_t>(ok->arg_or(2)), AT_FDCWD);
  const Event* bad = find(t.events, [&](const Event& e) { return e.type == EventType::openat && e.path == missing; });
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->res, -ENOENT);
}

TEST(HostProbesBpf, RefusedLoopbackConnect) {
  REQUIRE_BPF_CAPS();
  // A port nobody listens on: bound (so nobody else takes it meanwhile) but not listening.
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = ntohs(addr.sin_port);
  auto t = run_watched([&] {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    return r == -1 && errno == ECONNREFUSED ? 0 : 1;
  });
  close(holder);
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0);
  const Event* sock = find(t.events, [](const Event& e) { return e.type == EventType::socket; });
  ASSERT_NE(sock, nullptr);
  EXPECT_EQ(sock->arg_or(0), uint64_t(AF_INET));
  EXPECT_GE(sock->res, 0);
  const Event* conn = find(t.events, [](const Event& e) { return e.type == EventType::connect; });
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->res, -ECONNREFUSED);
  EXPECT_EQ(conn->addr.family, AF_INET);
  EXPECT_EQ(conn->addr.ip, "127.0.0.1");
  EXPECT_EQ(conn->addr.port, port);
  EXPECT_EQ(conn->arg_or(0), uint64_t(sock->res));
}

TEST(HostProbesBpf, ExitCode) {
  REQUIRE_BPF_CAPS();
  auto t = run_watched([] { return 42; });
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 42);
  const Event* exit = find(t.events, [](const Event& e) { return e.type == EventType::procexit; });
  ASSERT_NE(exit, nullptr);
  EXPECT_TRUE(exit->has_res);
  EXPECT_EQ(exit->res, 42 << 8);
}

TEST(HostProbesBpf, UnrelatedProcessesProduceNothingAndStatsAreReadable) {
  REQUIRE_BPF_CAPS();
  auto probes = open_scoped();
  ASSERT_NE(probes, nullptr);
  std::string path = "/tmp/ks_host_probes_scope_" + std::to_string(getpid());
  auto body = [&] {
    for (int i = 0; i < 20; ++i) {
      int fd = open(path.c_str(), O_RDONLY | O_CREAT, 0600);
      if (fd >= 0) close(fd);
    }
    return 0;
  };
  Child unrelated(body);  // never watched
  Child watched(body);
  ASSERT_TRUE(probes->watch_tgid(static_cast<uint32_t>(watched.pid())).has_value());
  unrelated.start();
  unrelated.wait();
  watched.start();
  // The unrelated child ended before the watched one began, so anything of it that got into the
  // ring buffer was written before the watched child's procexit, the marker collect_tree waits for.
  std::vector<Event> outside;
  auto events = collect_tree(*probes, static_cast<uint32_t>(watched.pid()), &outside);
  watched.wait();
  std::filesystem::remove(path);

  size_t opens = 0;
  for (const auto& e : events)
    if (e.type == EventType::openat && e.path == path) ++opens;
  EXPECT_EQ(opens, 20u);
  size_t unrelated_events = 0;
  for (const auto& e : outside) unrelated_events += e.proc.pid == static_cast<uint32_t>(unrelated.pid());
  EXPECT_EQ(unrelated_events, 0u) << "the never-watched child got through the in-kernel scope";
  for (const auto& e : events) EXPECT_NE(e.proc.pid, static_cast<uint32_t>(unrelated.pid()));

  auto stats = probes->stats();
  ASSERT_TRUE(stats.has_value()) << stats.error().describe();
  EXPECT_GE(stats->events, events.size());
  EXPECT_EQ(stats->ringbuf_drops, 0u);
  EXPECT_EQ(stats->pending_drops, 0u);
  // The exit removed the watched tgid in the kernel; unwatching again is not an error.
  EXPECT_TRUE(probes->unwatch_tgid(static_cast<uint32_t>(watched.pid())).has_value());
}

TEST(HostProbesBpf, CgroupScopeCoversTheCgroupAndItsChildren) {
  REQUIRE_BPF_CAPS();
  std::string base = "/sys/fs/cgroup/unified";
  ASSERT_TRUE(std::filesystem::exists(base + "/cgroup.procs")) << "no cgroup2 mount at " << base;
  std::string parent = base + "/ks_host_probes_test_" + std::to_string(getpid());
  std::string child_dir = parent + "/inner";
  ASSERT_TRUE(std::filesystem::create_directories(child_dir));
  struct Cleanup {
    std::string parent, child;
    ~Cleanup() {
      rmdir(child.c_str());
      rmdir(parent.c_str());
    }
  } cleanup{parent, child_dir};

  auto probes = open_scoped();
  ASSERT_NE(probes, nullptr);
  auto id = SyscallProbes::cgroup_id_of(parent);
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(probes->watch_cgroup(*id).has_value());

  std::string path = "/tmp/ks_host_probes_cg_" + std::to_string(getpid());
  Child child([&] {
    int fd = open(path.c_str(), O_RDONLY | O_CREAT, 0600);
    if (fd >= 0) close(fd);
    return 0;
  });
  // Move the (still waiting) child into the nested cgroup: the watched one is its ancestor.
  {
    int fd = open((child_dir + "/cgroup.procs").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::string pid = std::to_string(child.pid());
    ASSERT_EQ(write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
    close(fd);
  }
  child.start();
  auto events = collect_tree(*probes, static_cast<uint32_t>(child.pid()));
  child.wait();
  std::filesystem::remove(path);
  const Event* open_ev = find(events, [&](const Event& e) { return e.type == EventType::openat && e.path == path; });
  ASSERT_NE(open_ev, nullptr);
  EXPECT_NE(open_ev->proc.cgroup_id, *id);  // it is in the nested cgroup, matched via the ancestor
  EXPECT_TRUE(probes->unwatch_cgroup(*id).has_value());
}

}  // namespace
}  // namespace kata_sentry::probes

// The `kata-sentry trace` path end to end (run_trace): pid scope, --comm filter, JSON lines.
namespace kata_sentry::probes {
namespace {

TEST(TraceBpf, JsonLinesForAWatchedPidFilteredByComm) {
  REQUIRE_BPF_CAPS();
  Child child([] {
    int fd = open("/dev/null", O_RDONLY);  // before exec: proc.name is still this test's
    if (fd >= 0) close(fd);
    char* const argv[] = {const_cast<char*>("true"), const_cast<char*>("alpha"), const_cast<char*>("beta"), nullptr};
    execv("/bin/true", argv);
    return 127;
  });
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  TraceOptions options;
  options.pid = static_cast<uint32_t>(child.pid());
  options.comm = "true";  // drops the child's pre-exec events (comm = this test binary)
  options.duration_s = 4;
  std::atomic<bool> stop{false};
  Result<TraceSummary> summary = fail(ErrorCode::internal, "not run");
  std::thread tracer([&] { summary = run_trace(options, out, stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // load + attach take ~0.2 s
  child.start();
  EXPECT_EQ(child.wait(), 0);
  tracer.join();
  ASSERT_TRUE(summary.has_value()) << summary.error().describe();
  EXPECT_GT(summary->received, summary->printed);  // the filter dropped something
  EXPECT_EQ(summary->ringbuf_drops + summary->pending_drops, 0u);

  std::rewind(out);
  char buf[65536];
  int execs = 0, lines = 0;
  while (std::fgets(buf, sizeof buf, out)) {
    ++lines;
    auto e = event_from_json_line(std::string_view(buf, strcspn(buf, "\n")));
    ASSERT_TRUE(e.has_value()) << buf;
    EXPECT_EQ(e->proc.name, "true");
    EXPECT_EQ(e->proc.pid, static_cast<uint32_t>(child.pid()));
    if (e->type == EventType::execve) {
      ++execs;
      EXPECT_EQ(e->proc.cmdline(), "true alpha beta");
      EXPECT_EQ(e->proc.exepath, "/usr/bin/true");  // as the kernel resolved it (/bin is a link)
      EXPECT_EQ(e->res, 0);
    }
  }
  std::fclose(out);
  EXPECT_EQ(execs, 1);
  EXPECT_GE(lines, 2);  // at least the exec and the exit
}

// In-kernel filtering (wanted_types_map): a type left out of the pushed set builds no record,
// a wanted one does, and the set changes in place on attached probes (a rule reload).
TEST(HostProbesBpf, UnwantedTypesAreNeverBuilt) {
  REQUIRE_BPF_CAPS();
  auto probes = open_scoped();
  ASSERT_TRUE(probes);
  const size_t programs = probes->attached_programs();
  auto base = probes->stats();
  ASSERT_TRUE(base.has_value());
  auto ops = [] {
    // Unwanted first (openat, unlinkat, rmdir), then the wanted marker (mkdirat): when the
    // marker's record has arrived, the earlier records of this thread would have too.
    int fd = open("/etc/hostname", O_RDONLY);
    if (fd >= 0) close(fd);
    unlink("/nonexistent/ks-filter-unwanted");
    rmdir("/nonexistent/ks-filter-unwanted");
    std::string marker = "/tmp/ks-filter-marker-" + std::to_string(getpid());
    int rc = mkdir(marker.c_str(), 0700);
    rmdir(marker.c_str());
    return rc == 0 ? 0 : 1;
  };
  auto run = [&] { return events_of_watched_child(*probes, ops); };
  auto has_type = [](const std::vector<Event>& events, EventType t) {
    return find(events, [t](const Event& e) { return e.type == t; }) != nullptr;
  };

  SyscallProbes::TypeMask only_mkdir;
  only_mkdir.set(static_cast<size_t>(EventType::mkdirat));
  ASSERT_TRUE(probes->set_wanted_types(only_mkdir).has_value());
  auto narrow = run();
  const Event* marker = find(narrow, [](const Event& e) { return e.type == EventType::mkdirat && e.path.starts_with("/tmp/ks-filter-marker-"); });
  ASSERT_NE(marker, nullptr) << "the wanted mkdirat record did not arrive (" << narrow.size() << " events)";
  EXPECT_FALSE(has_type(narrow, EventType::openat)) << "an unwanted openat was built";
  EXPECT_FALSE(has_type(narrow, EventType::unlinkat)) << "an unwanted unlinkat was built";
  EXPECT_FALSE(has_type(narrow, EventType::rmdir)) << "an unwanted rmdir was built";
  EXPECT_TRUE(has_type(narrow, EventType::procexit)) << "process lifecycle records are never filtered";
  auto after = probes->stats();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->filtered - base->filtered, 4u) << "openat, unlinkat and two rmdirs were filtered";

  // Widened again in place: the same program set, no reattach, and the types come back.
  ASSERT_TRUE(probes->set_wanted_types(SyscallProbes::TypeMask().set()).has_value());
  EXPECT_EQ(probes->attached_programs(), programs);
  auto wide = run();
  EXPECT_TRUE(has_type(wide, EventType::mkdirat));
  EXPECT_TRUE(has_type(wide, EventType::openat));
  EXPECT_TRUE(has_type(wide, EventType::unlinkat));
  EXPECT_TRUE(has_type(wide, EventType::rmdir));
}

// In-kernel filtering on path and comm (field_filters_map): a wanted type's record whose path
// or comm matches none of its type's entries is never sent, one that matches is, exact entries
// need the whole path, and clearing the filters in place (a rule reload) lets everything through.
TEST(HostProbesBpf, PathsAndCommsNoRuleCanMatchAreNeverSent) {
  REQUIRE_BPF_CAPS();
  auto probes = open_scoped();
  ASSERT_TRUE(probes);
  auto base = probes->stats();
  ASSERT_TRUE(base.has_value());
  const std::string keep = "/tmp/ks-ff-keep-" + std::to_string(getpid());
  const std::string exact = "/tmp/ks-ff-exact-" + std::to_string(getpid());
  auto ops = [&] {
    // Left out first (a path outside every prefix, an exact path's longer sibling, an unlink
    // by a comm no rule names), then what passes; the mkdirat marker (no filter) comes last.
    int fd = open("/etc/hostname", O_RDONLY);
    if (fd >= 0) close(fd);
    fd = open((exact + "-longer").c_str(), O_RDONLY);
    if (fd >= 0) close(fd);
    unlink("/nonexistent/ks-ff-unlink");
    fd = open((keep + "-file").c_str(), O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
    unlink((keep + "-file").c_str());
    fd = open(exact.c_str(), O_RDONLY);
    if (fd >= 0) close(fd);
    std::string marker = "/tmp/ks-ff-marker-" + std::to_string(getpid());
    int rc = mkdir(marker.c_str(), 0700);
    rmdir(marker.c_str());
    return rc == 0 ? 0 : 1;
  };
  auto run = [&] { return events_of_watched_child(*probes, ops); };
  auto has = [](const std::vector<Event>& events, EventType t, const std::string& path) {
    return find(events, [&](const Event& e) { return e.type == t && e.path == path; }) != nullptr;
  };

  FieldFilters f;
  f[EventType::openat].path = std::set<StringMatch>{{keep, true}, {exact, false}};
  f[EventType::unlinkat].comm = std::set<StringMatch>{{"ks-no-such-comm", false}};
  ASSERT_TRUE(probes->set_field_filters(f).has_value());
  auto narrow = run();
  ASSERT_TRUE(find(narrow, [](const Event& e) { return e.type == EventType::mkdirat && e.path.starts_with("/tmp/ks-ff-marker-"); }))
      << "the marker did not arrive (" << narrow.size() << " events)";
  EXPECT_TRUE(has(narrow, EventType::openat, keep + "-file")) << "a path under a wanted prefix was filtered";
  EXPECT_TRUE(has(narrow, EventType::openat, exact)) << "an exactly wanted path was filtered";
  EXPECT_FALSE(has(narrow, EventType::openat, "/etc/hostname")) << "a path no entry matches was sent";
  EXPECT_FALSE(has(narrow, EventType::openat, exact + "-longer")) << "an exact entry let a longer path through";
  EXPECT_FALSE(has(narrow, EventType::unlinkat, "/nonexistent/ks-ff-unlink")) << "a comm no entry matches was sent";
  EXPECT_TRUE(find(narrow, [](const Event& e) { return e.type == EventType::procexit; })) << "lifecycle records always go";
  auto after = probes->stats();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->filtered_fields - base->filtered_fields, 4u) << "two opens and two unlinks were filtered";

  ASSERT_TRUE(probes->set_field_filters({}).has_value());
  auto wide = run();
  EXPECT_TRUE(has(wide, EventType::openat, "/etc/hostname"));
  EXPECT_TRUE(has(wide, EventType::unlinkat, "/nonexistent/ks-ff-unlink"));
}

// Only the programs of wanted types are attached (each detach costs RCU waits): widening
// attaches the new type's enter and exit programs and its records come; narrowing detaches
// nothing.
TEST(HostProbesBpf, ProgramsOfAnUnwantedTypeAreNotAttachedUntilItIsWanted) {
  REQUIRE_BPF_CAPS();
  SyscallProbesOptions o;
  o.scope_enabled = true;
  o.wanted_types.reset();
  auto opened = SyscallProbes::open(o);
  ASSERT_TRUE(opened.has_value()) << opened.error().describe();
  auto& probes = **opened;
  const size_t lifecycle = probes.attached_programs();
  EXPECT_GT(lifecycle, 0u) << "exec, fork and exit are always attached";
  auto opens = [] {
    std::string marker = "/tmp/ks-lazy-attach-" + std::to_string(getpid());
    int fd = open(marker.c_str(), O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) close(fd);
    unlink(marker.c_str());
    return fd >= 0 ? 0 : 1;
  };
  auto run = [&] { return events_of_watched_child(probes, opens); };
  auto opened_marker = [](const Event& e) { return e.type == EventType::openat && e.path.starts_with("/tmp/ks-lazy-attach-"); };

  auto before = run();  // collect_tree returns once the child's exit record is in
  EXPECT_NE(find(before, [](const Event& e) { return e.type == EventType::procexit; }), nullptr);
  EXPECT_EQ(find(before, opened_marker), nullptr) << "openat was built with no program attached for it";

  SyscallProbes::TypeMask openat;
  openat.set(static_cast<size_t>(EventType::openat));
  ASSERT_TRUE(probes.set_wanted_types(openat).has_value());
  EXPECT_EQ(probes.attached_programs(), lifecycle + 2) << "sys_enter_openat and sys_exit_openat";
  auto after = run();
  EXPECT_NE(find(after, opened_marker), nullptr) << "the openat record did not arrive once wanted";

  ASSERT_TRUE(probes.set_wanted_types(SyscallProbes::TypeMask()).has_value());
  EXPECT_EQ(probes.attached_programs(), lifecycle + 2) << "narrowing detaches nothing";
}

}  // namespace
}  // namespace kata_sentry::probes
