// A supervised child process (QEMU, virtiofsd): started in its own process group (so the
// terminal's Ctrl-C reaches only kata-sentry, which then tears down in order), killed with
// SIGKILL if its owner dies (PR_SET_PDEATHSIG), watched through a pidfd, and killed and reaped
// by the destructor. Not copyable; movable.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::vm {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (an absolute path) with stdin /dev/null and stdout+stderr appended to
  // `output_log`. PR_SET_PDEATHSIG is tied to the *calling thread*: spawn from a thread that
  // lives as long as the child should. Fails naming the binary: "start /usr/bin/x: ENOENT".
  // With `cgroup_dir` (a cgroup v2 directory) the child joins it before exec, so that the
  // cgroup's BPF programs already apply to the program's first syscall.
  // `pass_fds` are inherited as fds 3, 4, ... in that order (e.g. QEMU's taps); every other fd
  // is closed.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::filesystem::path& output_log,
                                    const std::filesystem::path& cgroup_dir = {},
                                    const std::vector<int>& pass_fds = {});

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }
  const std::string& name() const { return name_; }

  // True while the process has not exited (a non-blocking check on the pidfd).
  bool running();
  // Waits up to `timeout` for the exit; returns the wait status (as from waitpid), or a timeout
  // error. Reaps the child.
  Result<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; reaps. Never fails (a gone process is fine).
  void terminate(std::chrono::milliseconds grace);
  // "exited 1", "killed by signal 9 (Killed)", or "running".
  std::string describe_exit() const;

 private:
  void reap_if_exited(bool block);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::string name_;
  std::optional<int> wait_status_;
};

}  // namespace kata_sentry::vm
