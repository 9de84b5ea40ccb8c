#include "runtime/vm/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace kata_sentry::vm {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0) terminate(std::chrono::milliseconds(0));
  if (pidfd_ >= 0) ::close(pidfd_);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      name_(std::move(other.name_)),
      wait_status_(other.wait_status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) terminate(std::chrono::milliseconds(0));
    if (pidfd_ >= 0) ::close(pidfd_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    name_ = std::move(other.name_);
    wait_status_ = other.wait_status_;
  }
  return *this;
}

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const std::filesystem::path& output_log,
                                         const std::filesystem::path& cgroup_dir,
                                         const std::vector<int>& pass_fds) {
  if (argv.empty()) return fail(ErrorCode::invalid_argument, "start child: empty argv");
  const std::string& binary = argv[0];
  if (::access(binary.c_str(), X_OK) != 0) return fail_errno("start " + binary);
  int log_fd = ::open(output_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return fail_errno("start " + binary + ": open log " + output_log.string());
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int procs_fd = -1;
  if (!cgroup_dir.empty()) {
    auto procs = cgroup_dir / "cgroup.procs";
    procs_fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (procs_fd < 0) {
      auto err = fail_errno("start " + binary + ": open " + procs.string());
      ::close(log_fd);
      ::close(null_fd);
      return err;
    }
  }
  // Copies of the fds to pass, above any number the child's dup2()s will write, so that moving
  // them to 3, 4, ... never overwrites one not yet moved. Closed in the parent after fork.
  std::vector<int> high;
  for (int fd : pass_fds) {
    int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (h < 0) {
      auto err = fail_errno("start " + binary + ": pass fd " + std::to_string(fd));
      for (int x : high) ::close(x);
      ::close(log_fd);
      ::close(null_fd);
      if (procs_fd >= 0) ::close(procs_fd);
      return err;
    }
    high.push_back(h);
  }
  auto close_high = [&high] {
    for (int x : high) ::close(x);
  };
  // Everything the child needs is allocated before fork: the parent may be multithreaded.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    auto err = fail_errno("start " + binary + ": fork");
    close_high();
    ::close(log_fd);
    ::close(null_fd);
    if (procs_fd >= 0) ::close(procs_fd);
    return err;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the owner died before prctl took effect
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // "0" moves the writer itself; only async-signal-safe calls between fork and exec.
    if (procs_fd >= 0 && ::write(procs_fd, "0", 1) != 1) {
      static const char kMsg[] = "kata-sentry: cannot join the sandbox cgroup\n";
      (void)!::write(2, kMsg, sizeof kMsg - 1);
      ::_exit(126);
    }
    for (size_t i = 0; i < high.size(); ++i) ::dup2(high[i], int(3 + i));  // dup2 clears CLOEXEC
    ::close_range(unsigned(3 + high.size()), ~0U, 0);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  close_high();
  ::close(log_fd);
  ::close(null_fd);
  if (procs_fd >= 0) ::close(procs_fd);
  ChildProcess child;
  child.pid_ = pid;
  child.name_ = std::filesystem::path(binary).filename().string();
  child.pidfd_ = pidfd_open(pid);
  if (child.pidfd_ < 0) return fail_errno("start " + binary + ": pidfd_open");
  return child;
}

void ChildProcess::reap_if_exited(bool block) {
  if (pid_ <= 0 || wait_status_) return;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) wait_status_ = status;
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  reap_if_exited(false);
  return !wait_status_;
}

Result<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return fail(ErrorCode::internal, "wait for child: not started");
  if (!wait_status_) {
    pollfd p{pidfd_, POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) return fail(ErrorCode::timeout, "wait for " + name_ + " (pid " + std::to_string(pid_) + "): still running");
    reap_if_exited(true);
  }
  return wait_status_.value_or(0);
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || !running()) return;
  if (grace.count() > 0) {
    pidfd_send_signal(pidfd_, SIGTERM);
    if (wait_exit(grace)) return;
  }
  pidfd_send_signal(pidfd_, SIGKILL);
  reap_if_exited(true);
}

std::string ChildProcess::describe_exit() const {
  if (!wait_status_) return "running";
  int s = *wait_status_;
  if (WIFEXITED(s)) return "exited " + std::to_string(WEXITSTATUS(s));
  if (WIFSIGNALED(s)) return "killed by signal " + std::to_string(WTERMSIG(s)) + " (" + strsignal(WTERMSIG(s)) + ")";
  return "stopped";
}

}  // namespace kata_sentry::vm
