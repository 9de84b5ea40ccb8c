// Launches an OCI container: namespaces, rootfs (pivot_root), mounts, masked/readonly paths,
// cgroup v2 limits and device rules, capabilities, no_new_privs, seccomp, rlimits, ids, env,
// cwd, hostname, umask, oom_score_adj, terminal.
//
// Everything that can fail is computed in the calling process before clone (spec translation,
// the seccomp BPF program, mount flags, PATH lookup list); the child then runs only raw syscalls
// (no allocation, so it is safe in the multithreaded agent) and reports the first failing step
// over a CLOEXEC sync pipe: create_container() fails with a message such as
// "container c1: execve /bin/nosuch: No such file or directory" instead of an exit 127.
//
// Container processes inherit no file descriptor except their stdio.
//
// Root filesystem: pivot_root. The kernel refuses pivot_root while the agent's root is the
// initramfs itself (rootfs); the launcher then falls back to MS_MOVE + chroot, as
// `runc --no-pivot` does, which a container holding CAP_SYS_CHROOT can climb out of into the
// initramfs. The guest init should therefore `switch_root` (which also empties the initramfs)
// before it execs the agent.
//
// process.terminal: the child opens a pty in the container's own devpts (the spec needs a
// /dev/pts mount with newinstance and /dev/ptmx reachable), makes the slave its controlling
// terminal and stdio, and passes the master to the agent: console_fd().
//
// linux.resources.devices is enforced with a cgroup BPF device program (device_filter.h).
// Not supported yet (ignored): linux.devices (extra device nodes), hooks, apparmor, selinux,
// domainname.
//
// Reaping: the Container/ContainerExec objects reap their own children with waitid on a pidfd.
// An agent running as PID 1 must reap orphans with reap_children() below, never with
// waitpid(-1)/wait(), which would steal a container's exit status.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct StdioFds {
  int in = -1, out = -1, err = -1;  // -1 → /dev/null. Borrowed: the caller keeps ownership.
};

struct LaunchOptions {
  std::string container_id;           // [A-Za-z0-9_.-]{1,64}
  std::filesystem::path bundle_dir;   // relative root.path resolves against it
  std::filesystem::path cgroup_parent = "/sys/fs/cgroup/kata-sentry";  // created if missing
  StdioFds stdio;
  // Called once the container's cgroup exists and before its init runs any setup. Whatever
  // is keyed by the cgroup (event attribution, in-kernel deny rules) must be installed here,
  // or the container's first instructions would run unobserved and unrestricted.
  std::function<void(const std::filesystem::path& cgroup_dir)> on_cgroup_ready;
};

// Zero-valued fields are absent as std::nullopt when the controller's file does not exist.
struct ContainerStats {
  std::optional<uint64_t> memory_current_bytes;  // memory.current
  std::optional<uint64_t> pids_current;          // pids.current
  std::optional<uint64_t> cpu_usage_usec;        // cpu.stat usage_usec
};

// A child process we own, addressed through a pidfd so that signals never hit a recycled pid.
// Not copyable or movable. Destruction SIGKILLs and reaps a still-running process.
// Thread-safe: one thread may block in wait() while others signal() or try_wait().
class OwnedProcess {
 public:
  // Takes ownership of pidfd and registers pid with reap_children(). Construct it under a
  // ReapGuard taken before the process was cloned, or reap_children() may reap it first.
  OwnedProcess(pid_t pid, int pidfd);
  ~OwnedProcess();
  OwnedProcess(const OwnedProcess&) = delete;
  OwnedProcess& operator=(const OwnedProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  int pidfd() const noexcept { return pidfd_; }
  // Fails (ESRCH) once the process has been reaped.
  Status signal(int sig);
  // Blocks until exit; returns the wait(2)-style status (WIFEXITED/WEXITSTATUS/WTERMSIG).
  // Calling it again returns the same status. Fails only if waiting fails (e.g. someone else
  // reaped the child with waitpid(-1)).
  Result<int> wait();
  // The status if the process has exited (and reaps it), std::nullopt while it runs.
  std::optional<int> try_wait();
  bool exited() const;

 private:
  std::optional<int> reap_locked();  // non-blocking waitid

  const pid_t pid_;
  const int pidfd_;
  mutable std::mutex mu_;
  std::optional<int> status_;  // guarded by mu_
  int wait_errno_ = 0;         // guarded by mu_: why reaping failed, if it did
};

// A process started by Container::exec(). Destruction kills (SIGKILL) and reaps it if running.
class ContainerExec {
 public:
  ContainerExec(std::unique_ptr<OwnedProcess> proc, int console_master = -1)
      : proc_(std::move(proc)), console_(console_master) {}
  ~ContainerExec();
  ContainerExec(const ContainerExec&) = delete;
  ContainerExec& operator=(const ContainerExec&) = delete;
  pid_t pid() const { return proc_->pid(); }
  // process.terminal: the pty master (read output, write input, TIOCSWINSZ); else -1.
  // Owned by this object.
  int console_fd() const { return console_; }
  Status signal(int sig) { return proc_->signal(sig); }
  Result<int> wait() { return proc_->wait(); }
  std::optional<int> try_wait() { return proc_->try_wait(); }

 private:
  std::unique_ptr<OwnedProcess> proc_;
  int console_;
};

// For an agent that is PID 1 (or a child subreaper): reaps every exited child of this process
// without blocking and returns how many. The status of a child an OwnedProcess owns is kept for
// its wait(). Call it from a thread on SIGCHLD (signalfd) or periodically, not from a signal
// handler (it takes locks). Waits while a launch is between clone and registering its process
// (a few milliseconds). Never fails.
int reap_children();

// Held (shared) by launches from before clone until the new OwnedProcess exists, so that
// reap_children() cannot reap a process nobody has registered yet.
class ReapGuard {
 public:
  ReapGuard();
  ~ReapGuard();
  ReapGuard(const ReapGuard&) = delete;
  ReapGuard& operator=(const ReapGuard&) = delete;
};

class CgroupDir;  // agent/container/cgroup.h

// A started container's init process. Not copyable or movable; destruction kills (SIGKILL)
// every process of the container (cgroup.kill when available), reaps the init and removes the
// container's cgroup directory.
class Container {
 public:
  Container(std::string id, OciSpec spec, std::unique_ptr<CgroupDir> cgroup,
            std::unique_ptr<OwnedProcess> init, int console_master = -1);
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  pid_t pid() const;  // host-side (agent namespace) pid of the init
  const std::string& id() const { return id_; }
  const std::filesystem::path& cgroup_path() const;
  // process.terminal: the pty master of the init's controlling terminal (stdio is the pty
  // slave, LaunchOptions::stdio is ignored); else -1. Owned by the Container.
  int console_fd() const { return console_; }

  Status signal(int sig);        // to the container init; fails with ESRCH once reaped
  Result<int> wait();            // blocks; exact wait(2) status of the init
  std::optional<int> try_wait(); // non-blocking

  // Runs another process inside the container's namespaces, cgroup and rootfs, with the given
  // OCI process (args/env/cwd/user/caps/rlimits/noNewPrivileges) and the container's seccomp
  // profile. Fails like create_container() (step named) or if the container has exited.
  Result<std::unique_ptr<ContainerExec>> exec(const OciProcess& process, StdioFds stdio);

  // Reads the cgroup v2 files. Fails only if the cgroup directory is gone; a missing
  // controller leaves its field std::nullopt.
  Result<ContainerStats> stats() const;

 private:
  std::string id_;
  OciSpec spec_;
  std::unique_ptr<CgroupDir> cgroup_;  // destroyed after init_ (members destroy bottom-up)
  std::unique_ptr<OwnedProcess> init_;
  int console_ = -1;
};

// Validates the spec against this kernel, creates the cgroup (limits written, controllers
// enabled in the parent when available), clones the init into the namespaces, sets it up and
// execs process.args. Returns once execve has succeeded. Fails with:
//  - invalid_argument: bad id, unsupported spec content (unknown seccomp architecture,
//    hostname without a uts namespace, ...);
//  - unavailable: a limit asks for a cgroup controller the parent cannot enable;
//  - io/not_found/permission_denied: a setup step failed; the message names it
//    ("container c1: pivot_root /b/rootfs: Invalid argument").
// Nothing is left behind on failure (process reaped, cgroup removed).
Result<std::unique_ptr<Container>> create_container(const OciSpec& spec,
                                                    const LaunchOptions& options);

}  // namespace kata_sentry::agent
