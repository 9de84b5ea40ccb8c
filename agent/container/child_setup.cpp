#include "agent/container/child_setup.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>  // ST_* flag values for statfs f_flags
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kata_sentry::agent {
namespace {

// ---- no-allocation message building and reporting ----

void append(char* buf, size_t cap, size_t& n, const char* s) {
  while (s && *s && n + 1 < cap) buf[n++] = *s++;
  buf[n] = '\0';
}

void write_report(int fd, const ChildReport& r) {
  ssize_t w;
  do w = ::write(fd, &r, sizeof r);
  while (w < 0 && errno == EINTR);
}

template <typename... Parts>
[[noreturn]] void die(int fd, int err, Parts... parts) {
  ChildReport r;
  r.kind = ReportKind::error;
  r.err = err;
  size_t n = 0;
  (append(r.msg, sizeof r.msg, n, parts), ...);
  write_report(fd, r);
  ::_exit(1);
}

void wait_for_go(int go_fd) {
  char b = 0;
  ssize_t n;
  do n = ::read(go_fd, &b, 1);
  while (n < 0 && errno == EINTR);
  // EOF: the agent gave up on us (or died) before releasing the child. The channel stays
  // open (it is CLOEXEC) for the pty master of a terminal process.
  if (n != 1) ::_exit(1);
}

// process.terminal: a pty from the container's own devpts (so `tty` names /dev/pts/N inside),
// made our stdio and controlling terminal; the master goes to the agent over the go channel.
void setup_console(int rfd, int go_fd) {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) die(rfd, errno, "process.terminal: open /dev/ptmx in the container");
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) die(rfd, errno, "process.terminal: unlock pty");
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) die(rfd, errno, "process.terminal: open pty slave");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) die(rfd, errno, "process.terminal: dup2 pty slave");
  ::close(slave);
  if (::ioctl(0, TIOCSCTTY, 0) != 0) die(rfd, errno, "process.terminal: set controlling terminal");
  char byte = 'c';
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &master, sizeof master);
  if (::sendmsg(go_fd, &msg, MSG_NOSIGNAL) != 1) die(rfd, errno, "process.terminal: send pty master to the agent");
  ::close(master);
}

// Signal state survives clone and SIG_IGN survives execve: start the container clean.
void reset_signals() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void install_stdio(int rfd, const ChildStdio& stdio) {
  for (int i = 0; i < 3; ++i)
    if (::dup2(stdio.fd[i], i) < 0) die(rfd, errno, "dup2 stdio");
  // Whatever the agent holds (its channel, other containers' pipes) must not reach the
  // container; fds opened by other agent threads without O_CLOEXEC are caught here too.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 1024; ++fd)
      if (fd != rfd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

// ---- rootfs ----

unsigned long statfs_mount_flags(const char* path) {
  struct statfs st;
  if (::statfs(path, &st) != 0) return 0;
  unsigned long f = 0;
  if (st.f_flags & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flags & ST_NODEV) f |= MS_NODEV;
  if (st.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flags & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flags & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// Creates the mount target below rootfs, component by component, refusing symlinks so that a
// hostile image cannot redirect a mount outside its root.
void ensure_target(int rfd, const InitPlan& plan, const MountPlan& m) {
  int dir = ::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) die(rfd, errno, "open rootfs ", plan.rootfs.c_str());
  const char* p = m.destination.c_str();
  char comp[256];
  while (*p) {
    while (*p == '/') ++p;
    if (!*p) break;
    size_t len = 0;
    while (p[len] && p[len] != '/') ++len;
    if (len >= sizeof comp) die(rfd, ENAMETOOLONG, "mount destination ", m.destination.c_str());
    std::memcpy(comp, p, len);
    comp[len] = '\0';
    p += len;
    while (*p == '/') ++p;
    const bool last = *p == '\0';
    int fd = ::openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (last && m.file_target) {
        int f = ::openat(dir, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0 && errno != EEXIST) die(rfd, errno, "create mount target ", m.destination.c_str());
        if (f >= 0) ::close(f);
      } else if (::mkdirat(dir, comp, 0755) != 0 && errno != EEXIST) {
        die(rfd, errno, "mkdir for mount destination ", m.destination.c_str());
      }
      fd = ::openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) die(rfd, errno, "open mount destination ", m.destination.c_str());
    struct stat st;
    if (::fstat(fd, &st) != 0) die(rfd, errno, "stat mount destination ", m.destination.c_str());
    if (S_ISLNK(st.st_mode)) die(rfd, ELOOP, "mount destination ", m.destination.c_str(), " (symlink component ", comp, ")");
    if (!last && !S_ISDIR(st.st_mode)) die(rfd, ENOTDIR, "mount destination ", m.destination.c_str());
    ::close(dir);
    dir = fd;
  }
  ::close(dir);
}

void do_mount(int rfd, const InitPlan& plan, const MountPlan& m) {
  ensure_target(rfd, plan, m);
  const char* target = m.target.c_str();
  if (m.bind) {
    if (::mount(m.source.c_str(), target, nullptr, m.flags, nullptr) != 0)
      die(rfd, errno, "bind mount ", m.source.c_str(), " on ", m.destination.c_str());
    if (m.remount_flags) {
      unsigned long f = MS_REMOUNT | MS_BIND | m.remount_flags;
      // In a user namespace, flags the source mount has are locked: keep them.
      if (::mount(nullptr, target, nullptr, f, nullptr) != 0 &&
          (errno != EPERM || ::mount(nullptr, target, nullptr, f | statfs_mount_flags(target), nullptr) != 0))
        die(rfd, errno, "remount ", m.destination.c_str(), " with its options");
      // A remount changes only the top mount; rbind brings submounts that must be covered too.
      if ((m.flags & MS_REC) && (m.remount_flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC))) {
        struct mount_attr attr;
        std::memset(&attr, 0, sizeof attr);
        if (m.remount_flags & MS_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
        if (m.remount_flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
        if (m.remount_flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
        if (m.remount_flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
        if (::syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof attr) != 0 && errno != ENOSYS)
          die(rfd, errno, "apply options recursively to ", m.destination.c_str());
      }
    }
  } else {
    if (::mount(m.source.c_str(), target, m.fstype.c_str(), m.flags, m.data.empty() ? nullptr : m.data.c_str()) != 0)
      die(rfd, errno, "mount ", m.fstype.c_str(), " on ", m.destination.c_str());
  }
  if (m.propagation && ::mount(nullptr, target, nullptr, m.propagation, nullptr) != 0)
    die(rfd, errno, "set propagation of ", m.destination.c_str());
}

// The nodes a /dev tmpfs needs, bound from the agent's /dev: bind mounts work in user
// namespaces too, where mknod does not.
void populate_dev(int rfd, const InitPlan& plan) {
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  char host[64], target[4096];
  for (const char* node : kNodes) {
    size_t n = 0;
    append(host, sizeof host, n, "/dev/");
    append(host, sizeof host, n, node);
    struct stat st;
    if (::stat(host, &st) != 0) continue;
    n = 0;
    append(target, sizeof target, n, plan.rootfs.c_str());
    append(target, sizeof target, n, host);
    int fd = ::open(target, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) die(rfd, errno, "create ", host, " in container");
    ::close(fd);
    if (::mount(host, target, nullptr, MS_BIND, nullptr) != 0) die(rfd, errno, "bind mount ", host);
  }
  static const char* const kLinks[][2] = {{"/proc/self/fd", "fd"},   {"/proc/self/fd/0", "stdin"},
                                          {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                          {"pts/ptmx", "ptmx"}};
  for (const auto& link : kLinks) {
    size_t n = 0;
    append(target, sizeof target, n, plan.rootfs.c_str());
    append(target, sizeof target, n, "/dev/");
    append(target, sizeof target, n, link[1]);
    if (::symlink(link[0], target) != 0 && errno != EEXIST) die(rfd, errno, "symlink /dev/", link[1]);
  }
}

void pivot(int rfd, const InitPlan& plan) {
  const char* root = plan.rootfs.c_str();
  int oldroot = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) die(rfd, errno, "open old root");
  if (::chdir(root) != 0) die(rfd, errno, "chdir ", root);
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    // The old root is now stacked on the new one; unmount it through an fd to it.
    if (::fchdir(oldroot) != 0) die(rfd, errno, "fchdir old root");
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) die(rfd, errno, "make old root rslave");
    if (::umount2(".", MNT_DETACH) != 0) die(rfd, errno, "unmount old root");
  } else if (errno == EINVAL) {
    // The initramfs root (rootfs) cannot be pivoted away from; do what `runc --no-pivot` does.
    if (::mount(root, "/", nullptr, MS_MOVE, nullptr) != 0) die(rfd, errno, "pivot_root ", root, " (and MS_MOVE fallback)");
    if (::chroot(".") != 0) die(rfd, errno, "chroot ", root);
  } else {
    die(rfd, errno, "pivot_root ", root);
  }
  ::close(oldroot);
  if (::chdir("/") != 0) die(rfd, errno, "chdir / in new root");
}

void finish_rootfs(int rfd, const InitPlan& plan) {
  for (const auto& [path, value] : plan.sysctls) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(rfd, errno, "sysctl ", path.c_str());
    if (::write(fd, value.data(), value.size()) != ssize_t(value.size())) die(rfd, errno, "write sysctl ", path.c_str());
    ::close(fd);
  }
  for (const auto& p : plan.masked_paths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      die(rfd, errno, "stat masked path ", p.c_str());
    }
    int rc = S_ISDIR(st.st_mode) ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                 : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0) die(rfd, errno, "mask path ", p.c_str());
  }
  for (const auto& p : plan.readonly_paths) {
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      die(rfd, errno, "bind readonly path ", p.c_str());
    }
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | statfs_mount_flags(p.c_str());
    if (::mount(nullptr, p.c_str(), nullptr, f, nullptr) != 0) die(rfd, errno, "remount read-only ", p.c_str());
  }
  if (plan.readonly_root) {
    unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | statfs_mount_flags("/");
    if (::mount(nullptr, "/", nullptr, f, nullptr) != 0) die(rfd, errno, "remount root read-only");
  }
}

// ---- process ----

void load_seccomp(int rfd, const ProcessPlan& p) {
  struct sock_fprog prog;
  prog.len = (unsigned short)p.seccomp.size();
  prog.filter = const_cast<sock_filter*>(p.seccomp.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die(rfd, errno, "load seccomp filter");
}

[[noreturn]] void run_process(int rfd, const ProcessPlan& p) {
  ::umask(p.umask);
  if (!p.oom_score_adj.empty()) {
    // Still privileged here: lowering the score needs CAP_SYS_RESOURCE.
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, p.oom_score_adj.data(), p.oom_score_adj.size()) != ssize_t(p.oom_score_adj.size()))
      die(rfd, errno, "write /proc/self/oom_score_adj (process.oomScoreAdj)");
    ::close(fd);
  }
  for (const auto& l : p.rlimits)
    if (::syscall(SYS_prlimit64, 0, l.resource, &l.limit, nullptr) != 0) die(rfd, errno, "setrlimit ", l.name.c_str());
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while we have it.
  if (!p.seccomp.empty() && !p.no_new_privs) load_seccomp(rfd, p);

  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die(rfd, errno, "prctl PR_SET_KEEPCAPS");
  for (int cap = 0; cap <= p.last_cap; ++cap)
    if (!(p.caps.bounding & (uint64_t(1) << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) continue;  // the kernel does not know this capability
      die(rfd, errno, "drop capabilities from the bounding set");
    }
  // Raw syscalls: glibc's wrappers broadcast id changes to every thread it believes exists
  // (taking its thread-list lock), and after a raw clone of the multithreaded agent those
  // threads do not exist here and the lock may be held forever.
  if (::syscall(SYS_setgroups, p.groups.size(), p.groups.data()) != 0)
    die(rfd, errno, "setgroups (process.user.additionalGids)");
  if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) die(rfd, errno, "setresgid (process.user.gid)");
  if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) die(rfd, errno, "setresuid (process.user.uid)");
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) die(rfd, errno, "prctl PR_SET_KEEPCAPS");

  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  for (int i = 0; i < 2; ++i) {
    data[i].effective = uint32_t(p.caps.effective >> (32 * i));
    data[i].permitted = uint32_t(p.caps.permitted >> (32 * i));
    data[i].inheritable = uint32_t(p.caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) die(rfd, errno, "capset (process.capabilities)");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    die(rfd, errno, "clear ambient capabilities");
  for (int cap = 0; cap <= p.last_cap; ++cap)
    if ((p.caps.ambient & (uint64_t(1) << cap)) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      die(rfd, errno, "raise ambient capability (process.capabilities.ambient)");

  if (::chdir(p.cwd.c_str()) != 0) die(rfd, errno, "chdir ", p.cwd.c_str(), " (process.cwd)");
  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die(rfd, errno, "prctl PR_SET_NO_NEW_PRIVS");

  // Tell the agent setup is done before the filter goes in: a profile may deny write(2).
  ChildReport next;
  next.kind = ReportKind::exec_next;
  write_report(rfd, next);
  if (!p.seccomp.empty() && p.no_new_privs) load_seccomp(rfd, p);

  const char* arg0 = p.argv[0];
  if (std::strchr(arg0, '/')) {
    ::execve(arg0, p.argv.data(), p.envp.data());
    die(rfd, errno, "execve ", arg0);
  }
  int saved = ENOENT;
  char path[4096];
  for (const auto& dir : p.path_dirs) {
    size_t n = 0;
    append(path, sizeof path, n, dir.c_str());
    append(path, sizeof path, n, "/");
    append(path, sizeof path, n, arg0);
    ::execve(path, p.argv.data(), p.envp.data());
    if (errno == EACCES) saved = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR) {
      saved = errno;
      break;
    }
  }
  die(rfd, saved, "execve ", arg0, " (searched PATH)");
}

}  // namespace

void run_init_child(const InitPlan& plan, int rfd, int go_fd, ChildStdio stdio) noexcept {
  wait_for_go(go_fd);
  reset_signals();
  install_stdio(rfd, stdio);
  if (::setsid() < 0) die(rfd, errno, "setsid");
  if (plan.new_user_ns) {
    // Our credentials are still the agent's kuid 0, unmapped in the new namespace (files we
    // create would fail with EOVERFLOW): become the namespace's root now that the maps exist.
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0) die(rfd, errno, "setresgid 0 in the user namespace");
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0) die(rfd, errno, "setresuid 0 in the user namespace");
  }
  for (const auto& j : plan.joins)
    if (::setns(j.fd, j.type) != 0) die(rfd, errno, "setns ", j.path.c_str());
  if (plan.new_cgroup_ns && ::unshare(CLONE_NEWCGROUP) != 0) die(rfd, errno, "unshare cgroup namespace");

  // Nothing we mount may propagate back to the agent. EINVAL: our root is not a mount point
  // (a chrooted agent); the rootfs bind below is made private on its own then.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 && errno != EINVAL)
    die(rfd, errno, "make / rprivate");
  if (::mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    die(rfd, errno, "bind mount rootfs ", plan.rootfs.c_str());
  if (::mount(nullptr, plan.rootfs.c_str(), nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    die(rfd, errno, "make rootfs rprivate");
  for (const auto& m : plan.mounts) do_mount(rfd, plan, m);
  if (plan.populate_dev) populate_dev(rfd, plan);
  pivot(rfd, plan);
  finish_rootfs(rfd, plan);
  if (!plan.hostname.empty() && ::sethostname(plan.hostname.data(), plan.hostname.size()) != 0)
    die(rfd, errno, "sethostname ", plan.hostname.c_str());
  if (plan.process.terminal) setup_console(rfd, go_fd);
  run_process(rfd, plan.process);
}

void run_exec_helper(const ProcessPlan& plan, int init_pidfd, int ns_flags, int rfd, int go_fd,
                     ChildStdio stdio) noexcept {
  wait_for_go(go_fd);
  reset_signals();
  install_stdio(rfd, stdio);
  if (::setns(init_pidfd, ns_flags) != 0) die(rfd, errno, "join the container's namespaces (setns)");
  // CLONE_PARENT: the agent, not this short-lived helper, becomes the parent, so it can wait.
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = CLONE_PARENT;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) die(rfd, errno, "clone the exec process");
  if (pid == 0) {
    if (::setsid() < 0) die(rfd, errno, "setsid");
    if (plan.terminal) setup_console(rfd, go_fd);
    run_process(rfd, plan);
  }
  ChildReport r;
  r.kind = ReportKind::exec_pid;
  r.value = pid;
  write_report(rfd, r);
  ::_exit(0);
}

}  // namespace kata_sentry::agent
