#include "agent/container/container.h"

#include <fcntl.h>
#include <poll.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "agent/container/cgroup.h"
#include "agent/container/child_setup.h"
#include "agent/container/device_filter.h"
#include "agent/container/launch_plan.h"
#include "core/logging.h"
#include "core/unique_fd.h"

namespace kata_sentry::agent {
namespace {

// CLOEXEC duplicate numbered >= 3, so the child's dup2 onto 0/1/2 never clobbers it.
Result<UniqueFd> dup_high(int fd, const char* what) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return fail_errno(std::string("dup ") + what);
  return UniqueFd(d);
}

struct Pipe {
  UniqueFd r, w;
};

Result<Pipe> make_pipe(const char* what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno(std::string("pipe2 ") + what);
  UniqueFd r(p[0]), w(p[1]);
  auto hr = dup_high(r.get(), what);
  if (!hr) return std::unexpected(hr.error());
  auto hw = dup_high(w.get(), what);
  if (!hw) return std::unexpected(hw.error());
  return Pipe{std::move(*hr), std::move(*hw)};
}

// The agent→child release channel: a socketpair, so that writing to a child that died early
// fails with EPIPE instead of raising SIGPIPE in the agent.
Result<Pipe> make_go_channel() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return fail_errno("socketpair go channel");
  UniqueFd a(sv[0]), b(sv[1]);
  auto ha = dup_high(a.get(), "go channel");
  if (!ha) return std::unexpected(ha.error());
  auto hb = dup_high(b.get(), "go channel");
  if (!hb) return std::unexpected(hb.error());
  return Pipe{std::move(*ha), std::move(*hb)};
}

// Keeps the channel open: a terminal child answers on it with its pty master.
Status release_child(UniqueFd& go) {
  ssize_t n;
  do n = ::send(go.get(), "g", 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  int e = errno;
  if (n != 1) {
    errno = n < 0 ? e : EIO;
    return fail_errno("release the child (it died during start-up)");
  }
  return {};
}

// The child's stdio: the caller's fds, /dev/null for -1.
struct Stdio {
  UniqueFd fd[3];
  ChildStdio raw() const { return ChildStdio{{fd[0].get(), fd[1].get(), fd[2].get()}}; }
};

// process.terminal: the child opened a pty in the container's devpts and sent the master over
// the go channel before execve; it waits there, queued.
Result<UniqueFd> receive_console(int sock) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n != 1) {
    if (n == 0) errno = EPIPE;
    return fail_errno("process.terminal: receive the pty master from the child");
  }
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
    return fail(ErrorCode::protocol, "process.terminal: the child sent no pty master");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return UniqueFd(fd);
}

Result<Stdio> prepare_stdio(const StdioFds& in, bool terminal) {
  Stdio s;
  // With a terminal the child replaces these by its pty slave; /dev/null until then.
  const int src[3] = {terminal ? -1 : in.in, terminal ? -1 : in.out, terminal ? -1 : in.err};
  for (int i = 0; i < 3; ++i) {
    if (src[i] >= 0) {
      auto d = dup_high(src[i], "stdio fd");
      if (!d) return std::unexpected(d.error());
      s.fd[i] = std::move(*d);
    } else {
      int n = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (n < 0) return fail_errno("open /dev/null for stdio");
      auto d = dup_high(n, "/dev/null");
      ::close(n);
      if (!d) return std::unexpected(d.error());
      s.fd[i] = std::move(*d);
    }
  }
  return s;
}

// clone3 returning twice like fork; the parent gets a pidfd.
pid_t clone_child(uint64_t flags, int* pidfd) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = uint64_t(uintptr_t(pidfd));
  args.exit_signal = SIGCHLD;
  return pid_t(::syscall(SYS_clone3, &args, sizeof args));
}

Status write_proc_file(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path);
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) {
    errno = e;
    return fail_errno("write " + path);
  }
  return {};
}

std::string id_map_text(const std::vector<OciIdMapping>& maps) {
  std::string s;
  for (const auto& m : maps)
    s += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  return s;
}

// What the child said on the report pipe, read until EOF (its last fd closes at execve).
struct ChildOutcome {
  std::optional<ChildReport> error;
  bool exec_next = false;
  std::optional<pid_t> exec_pid;
};

ChildOutcome read_reports(int fd) {
  ChildOutcome out;
  for (;;) {
    ChildReport r;
    ssize_t n = ::read(fd, &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n != ssize_t(sizeof r)) break;  // EOF (or a torn record: treat as EOF)
    r.msg[sizeof r.msg - 1] = '\0';
    if (r.kind == ReportKind::error && !out.error) out.error = r;
    else if (r.kind == ReportKind::exec_next) out.exec_next = true;
    else if (r.kind == ReportKind::exec_pid) out.exec_pid = pid_t(r.value);
  }
  return out;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

Error child_error(const std::string& prefix, const ChildReport& r) {
  int e = r.err;
  ErrorCode code = e == ENOENT ? ErrorCode::not_found
                   : (e == EPERM || e == EACCES) ? ErrorCode::permission_denied
                                                  : ErrorCode::io;
  return Error{code, e, prefix + r.msg};
}

}  // namespace

// ---- child registry: lets reap_children() reap everything without stealing statuses ----

namespace {

struct ChildRegistry {
  std::shared_mutex gate;  // shared: launches in flight; exclusive: reap_children()
  std::mutex mu;
  std::unordered_set<pid_t> owned;         // guarded by mu
  std::unordered_map<pid_t, int> parked;   // guarded by mu: statuses reaped for an owner
};

ChildRegistry& registry() {
  static ChildRegistry r;
  return r;
}

}  // namespace

ReapGuard::ReapGuard() { registry().gate.lock_shared(); }
ReapGuard::~ReapGuard() { registry().gate.unlock_shared(); }

int reap_children() {
  ChildRegistry& r = registry();
  std::unique_lock gate(r.gate);
  int n = 0;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    ++n;
    std::lock_guard lock(r.mu);
    if (r.owned.contains(pid)) r.parked[pid] = status;
  }
  return n;
}

// ---- OwnedProcess ----

OwnedProcess::OwnedProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {
  std::lock_guard lock(registry().mu);
  registry().owned.insert(pid);
}

OwnedProcess::~OwnedProcess() {
  if (!exited()) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
    (void)wait();
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  std::lock_guard lock(registry().mu);
  registry().owned.erase(pid_);
  registry().parked.erase(pid_);
}

bool OwnedProcess::exited() const {
  std::lock_guard lock(mu_);
  return status_.has_value();
}

Status OwnedProcess::signal(int sig) {
  std::lock_guard lock(mu_);  // held so the pid cannot be reaped (and reused) meanwhile
  if (status_) {
    errno = ESRCH;
    return fail_errno("signal " + std::to_string(sig) + " to pid " + std::to_string(pid_) + " (exited)");
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0) != 0)
    return fail_errno("signal " + std::to_string(sig) + " to pid " + std::to_string(pid_));
  return {};
}

static int wait_status_from(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED: return (info.si_status & 0xff) << 8;
    case CLD_KILLED: return info.si_status & 0x7f;
    case CLD_DUMPED: return (info.si_status & 0x7f) | 0x80;
    default: return info.si_status;
  }
}

std::optional<int> OwnedProcess::reap_locked() {
  if (status_ || wait_errno_) return status_;
  siginfo_t info;
  for (;;) {
    std::memset(&info, 0, sizeof info);
    if (::waitid(idtype_t(P_PIDFD), id_t(pidfd_), &info, WEXITED | WNOHANG) == 0) break;
    if (errno == EINTR) continue;
    if (errno == ECHILD) {  // reap_children() got there first and kept the status for us
      std::lock_guard lock(registry().mu);
      if (auto it = registry().parked.find(pid_); it != registry().parked.end()) {
        status_ = it->second;
        registry().parked.erase(it);
        return status_;
      }
      errno = ECHILD;
    }
    wait_errno_ = errno;
    return std::nullopt;
  }
  if (info.si_pid == 0) return std::nullopt;  // WNOHANG, still running
  status_ = wait_status_from(info);
  return status_;
}

Result<int> OwnedProcess::wait() {
  // Sleep on the pidfd without the lock (it polls readable once the process exits), so other
  // threads can still signal; then reap under the lock.
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (auto st = reap_locked()) return *st;
      if (wait_errno_) {
        errno = wait_errno_;
        return fail_errno("wait for pid " + std::to_string(pid_));
      }
    }
    struct pollfd pfd{pidfd_, POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return fail_errno("poll pidfd of pid " + std::to_string(pid_));
  }
}

std::optional<int> OwnedProcess::try_wait() {
  std::lock_guard lock(mu_);
  return reap_locked();
}

// ---- Container ----

Container::Container(std::string id, OciSpec spec, std::unique_ptr<CgroupDir> cgroup,
                     std::unique_ptr<OwnedProcess> init, int console_master)
    : id_(std::move(id)), spec_(std::move(spec)), cgroup_(std::move(cgroup)), init_(std::move(init)),
      console_(console_master) {}

ContainerExec::~ContainerExec() {
  proc_.reset();
  if (console_ >= 0) ::close(console_);
}

Container::~Container() {
  // Without a pid namespace, killing the init would leave its children running: kill the cgroup.
  if (cgroup_) cgroup_->kill_all();
  init_.reset();    // SIGKILL + reap if still running
  cgroup_.reset();  // rmdir
  if (console_ >= 0) ::close(console_);
}

pid_t Container::pid() const { return init_->pid(); }
const std::filesystem::path& Container::cgroup_path() const { return cgroup_->path(); }
Status Container::signal(int sig) { return init_->signal(sig); }
Result<int> Container::wait() { return init_->wait(); }
std::optional<int> Container::try_wait() { return init_->try_wait(); }
Result<ContainerStats> Container::stats() const { return cgroup_->stats(); }

Result<std::unique_ptr<ContainerExec>> Container::exec(const OciProcess& process, StdioFds stdio_fds) {
  const std::string prefix = "container " + id_ + ": exec: ";
  if (init_->try_wait())
    return fail(ErrorCode::invalid_argument, prefix + "the container has exited");
  auto plan = plan_process(process, spec_.linux.seccomp);
  if (!plan) {
    plan.error().message = prefix + plan.error().message;
    return std::unexpected(plan.error());
  }
  int ns_flags = 0;
  for (const auto& ns : spec_.linux.namespaces)
    if (ns.type == "pid") ns_flags |= CLONE_NEWPID;
    else if (ns.type == "network") ns_flags |= CLONE_NEWNET;
    else if (ns.type == "mount") ns_flags |= CLONE_NEWNS;
    else if (ns.type == "ipc") ns_flags |= CLONE_NEWIPC;
    else if (ns.type == "uts") ns_flags |= CLONE_NEWUTS;
    else if (ns.type == "cgroup") ns_flags |= CLONE_NEWCGROUP;
    else if (ns.type == "user" && ns.path.empty()) ns_flags |= CLONE_NEWUSER;

  auto stdio = prepare_stdio(stdio_fds, process.terminal);
  if (!stdio) return std::unexpected(stdio.error());
  auto report = make_pipe("exec report");
  if (!report) return std::unexpected(report.error());
  auto go = make_go_channel();
  if (!go) return std::unexpected(go.error());

  // Until the exec'd process is registered (after the reports), reap_children() must wait.
  std::optional<ReapGuard> reap_guard(std::in_place);
  int helper_pidfd = -1;
  pid_t helper = clone_child(0, &helper_pidfd);
  if (helper < 0) return fail_errno(prefix + "clone exec helper");
  if (helper == 0) {
    ::close(report->r.get());
    ::close(go->w.get());
    run_exec_helper(*plan, init_->pidfd(), ns_flags, report->w.get(), go->r.get(), stdio->raw());
  }
  OwnedProcess helper_proc(helper, helper_pidfd);
  report->w.reset();
  go->r.reset();
  for (auto& f : stdio->fd) f.reset();
  if (auto st = cgroup_->add_process(helper); !st) {
    st.error().message = prefix + st.error().message;
    return std::unexpected(st.error());  // helper_proc's destructor kills and reaps it
  }
  if (auto st = release_child(go->w); !st) {
    st.error().message = prefix + st.error().message;
    return std::unexpected(st.error());
  }
  ChildOutcome out = read_reports(report->r.get());
  auto helper_status = helper_proc.wait();

  std::unique_ptr<OwnedProcess> proc;
  if (out.exec_pid) {
    int pidfd = int(::syscall(SYS_pidfd_open, *out.exec_pid, 0));
    if (pidfd < 0) {
      ::kill(*out.exec_pid, SIGKILL);
      ::waitpid(*out.exec_pid, nullptr, 0);
      return fail_errno(prefix + "pidfd_open " + std::to_string(*out.exec_pid));
    }
    proc = std::make_unique<OwnedProcess>(*out.exec_pid, pidfd);
  }
  reap_guard.reset();
  if (out.error) return std::unexpected(child_error(prefix, *out.error));  // proc reaped by its destructor
  if (!proc)
    return fail(ErrorCode::internal, prefix + "exec helper ended (" +
                                         (helper_status ? describe_status(*helper_status) : "unknown status") +
                                         ") without starting the process");
  if (!out.exec_next) {
    auto st = proc->wait();
    return fail(ErrorCode::internal, prefix + "process died during setup (" +
                                         (st ? describe_status(*st) : st.error().describe()) + ")");
  }
  UniqueFd console;
  if (process.terminal) {
    auto c = receive_console(go->w.get());
    if (!c) return fail(c.error().code, prefix + c.error().message, c.error().sys_errno);
    console = std::move(*c);
  }
  return std::make_unique<ContainerExec>(std::move(proc), console.release());
}

// ---- create_container ----

Result<std::unique_ptr<Container>> create_container(const OciSpec& spec, const LaunchOptions& options) {
  const std::string prefix = "container " + options.container_id + ": ";
  auto with_prefix = [&](Error e) {
    e.message = prefix + e.message;
    return std::unexpected(std::move(e));
  };
  auto plan = plan_init(spec, options.container_id, options.bundle_dir);
  if (!plan) return with_prefix(plan.error());

  auto cgroup = CgroupDir::create(options.cgroup_parent, options.container_id);
  if (!cgroup) return with_prefix(cgroup.error());
  if (auto st = (*cgroup)->apply_limits(spec.linux.resources); !st) return with_prefix(st.error());
  if (!spec.linux.resources.devices.empty()) {
    // The spec's rules, then runc's defaults (last match decides, as in runc).
    std::vector<OciDeviceRule> rules = spec.linux.resources.devices;
    rules.insert(rules.end(), default_allowed_devices().begin(), default_allowed_devices().end());
    if (auto st = attach_device_filter((*cgroup)->path(), rules); !st) return with_prefix(st.error());
  }
  if (options.on_cgroup_ready) options.on_cgroup_ready((*cgroup)->path());

  auto stdio = prepare_stdio(options.stdio, spec.process.terminal);
  if (!stdio) return with_prefix(stdio.error());
  auto report = make_pipe("report");
  if (!report) return with_prefix(report.error());
  auto go = make_go_channel();
  if (!go) return with_prefix(go.error());

  int pidfd = -1;
  std::optional<ReapGuard> reap_guard(std::in_place);
  pid_t pid = clone_child(uint64_t(plan->clone_flags), &pidfd);
  if (pid < 0) return with_prefix(fail_errno("clone3 container init").error());
  if (pid == 0) {
    ::close(report->r.get());
    ::close(go->w.get());
    run_init_child(*plan, report->w.get(), go->r.get(), stdio->raw());
  }
  auto init = std::make_unique<OwnedProcess>(pid, pidfd);
  reap_guard.reset();
  report->w.reset();
  go->r.reset();
  for (auto& f : stdio->fd) f.reset();

  // Placed in the cgroup before it runs a single instruction of setup, so every byte it
  // allocates and every process it forks is accounted.
  if (auto st = (*cgroup)->add_process(pid); !st) return with_prefix(st.error());
  if (plan->new_user_ns) {
    if (auto st = write_proc_file(pid, "uid_map", id_map_text(plan->uid_mappings)); !st) return with_prefix(st.error());
    if (auto st = write_proc_file(pid, "gid_map", id_map_text(plan->gid_mappings)); !st) return with_prefix(st.error());
  }
  if (auto st = release_child(go->w); !st) return with_prefix(st.error());

  ChildOutcome out = read_reports(report->r.get());
  if (out.error) {
    (void)init->wait();
    return std::unexpected(child_error(prefix, *out.error));
  }
  if (!out.exec_next) {
    auto st = init->wait();
    return fail(ErrorCode::internal, prefix + "init died during setup (" +
                                         (st ? describe_status(*st) : st.error().describe()) + ")");
  }
  UniqueFd console;
  if (spec.process.terminal) {
    auto c = receive_console(go->w.get());
    if (!c) return with_prefix(c.error());
    console = std::move(*c);
  }
  logger("agent")->debug("container {} started, pid {}", options.container_id, pid);
  return std::make_unique<Container>(options.container_id, spec, std::move(*cgroup), std::move(init),
                                     console.release());
}

}  // namespace kata_sentry::agent
