// The spec `kata-sentry run` uses when the user gives none: runc/containerd defaults.
#include "core/oci/oci_names.h"
#include "core/oci/oci_spec.h"

namespace kata_sentry {
namespace {

// containerd's default set (what a Docker/Kubernetes user expects), wider than `runc spec`'s.
const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID", "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

// Syscalls that reach kernel-wide state or widen the attack surface; Docker's default profile
// denies these too (it allow-lists, we deny-list so unusual workloads keep working).
const std::vector<std::string> kDeniedSyscalls = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
    "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
    "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
    "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "swapoff",
    "swapon", "_sysctl", "sysfs", "umount", "umount2", "unshare", "uselib", "userfaultfd",
    "ustat", "vm86", "vm86old"};

}  // namespace

OciSpec default_oci_spec(std::vector<std::string> args, bool privileged) {
  OciSpec s;
  s.process.args = std::move(args);
  s.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  s.process.cwd = "/";
  s.process.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  s.process.no_new_privileges = true;
  std::vector<std::string> caps = kDefaultCaps;
  if (privileged) caps.assign(all_capability_names().begin(), all_capability_names().end());
  s.process.capabilities = OciCapabilities{caps, caps, caps, {}, {}};
  s.root = {"rootfs", false};
  s.hostname = "kata-sentry";
  s.mounts = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}},
  };
  if (privileged) {
    s.linux.resources.devices = {{true, "a", std::nullopt, std::nullopt, "rwm"}};
  } else {
    // runc's defaults: deny everything, allow mknod of any node (opening it is what counts)
    // and the standard character devices.
    auto c = [](int64_t major, std::optional<int64_t> minor) {
      return OciDeviceRule{true, "c", major, minor, "rwm"};
    };
    s.linux.resources.devices = {
        {false, "a", std::nullopt, std::nullopt, "rwm"},
        {true, "c", std::nullopt, std::nullopt, "m"},
        {true, "b", std::nullopt, std::nullopt, "m"},
        c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9),  // null zero full random urandom
        c(5, 0), c(5, 1), c(5, 2),                     // tty console ptmx
        c(136, std::nullopt),                          // pts/*
        c(10, 200),                                    // net/tun
    };
  }
  s.linux.namespaces = {{"pid", ""}, {"network", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"cgroup", ""}};
  if (!privileged) {
    s.linux.masked_paths = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/proc/scsi", "/sys/firmware"};
    s.linux.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    OciSeccomp sc;
    sc.default_action = "SCMP_ACT_ALLOW";
    sc.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    sc.syscalls.push_back({kDeniedSyscalls, "SCMP_ACT_ERRNO", std::nullopt, {}});
    s.linux.seccomp = std::move(sc);
  }
  return s;
}

}  // namespace kata_sentry
