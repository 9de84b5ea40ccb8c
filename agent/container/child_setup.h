// The code that runs in a freshly cloned container child, up to execve. Async-signal-safe by
// construction: no allocation, no locks, no exceptions, only raw syscalls on a prepared plan.
// Each failure is reported once on the CLOEXEC report pipe, naming the step, and the child
// exits 1; a successful execve closes the pipe.
#pragma once

#include <cstdint>

#include "agent/container/launch_plan.h"

namespace kata_sentry::agent {

enum class ReportKind : int32_t {
  error = 1,      // msg names the step, err is the errno
  exec_next = 2,  // setup finished; execve comes next (EOF after it = exec succeeded)
  exec_pid = 3,   // the exec helper's grandchild pid (in the agent's pid namespace)
};

// Fixed size, below PIPE_BUF, so each write is atomic.
struct ChildReport {
  ReportKind kind = ReportKind::error;
  int32_t err = 0;
  int64_t value = 0;
  char msg[496] = {};
};
static_assert(sizeof(ChildReport) <= 512);

// The three stdio fds to install as 0/1/2 (already >= 3 and CLOEXEC in the agent).
struct ChildStdio {
  int fd[3] = {-1, -1, -1};
};

// Container init: waits for the agent's go byte (written after cgroup placement and id maps),
// then namespaces, rootfs, mounts, pivot_root, masked/readonly paths, sysctl, hostname, and the
// process setup below.
[[noreturn]] void run_init_child(const InitPlan& plan, int report_fd, int go_fd, ChildStdio stdio) noexcept;

// exec helper: waits for go (after the agent put it in the container cgroup), joins the init's
// namespaces through its pidfd, and clones the process with CLONE_PARENT so the agent is its
// parent; reports that pid and exits.
[[noreturn]] void run_exec_helper(const ProcessPlan& plan, int init_pidfd, int ns_flags, int report_fd,
                                  int go_fd, ChildStdio stdio) noexcept;

}  // namespace kata_sentry::agent
