#include "core/oci/oci_names.h"

#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <utility>

namespace kata_sentry {

const std::vector<std::string_view>& all_capability_names() {
  // Indexed by capability number (linux/capability.h).
  static const std::vector<std::string_view> names = {
      "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
      "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
      "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST",
      "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
      "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
      "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
      "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE",
  };
  return names;
}

std::optional<int> capability_from_name(std::string_view name) {
  const auto& names = all_capability_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  return std::nullopt;
}

std::optional<int> rlimit_from_name(std::string_view name) {
  static const std::array<std::pair<std::string_view, int>, 16> table = {{
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
  }};
  for (const auto& [n, v] : table)
    if (n == name) return v;
  return std::nullopt;
}

std::optional<int> namespace_clone_flag(std::string_view type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  return std::nullopt;
}

bool is_seccomp_action(std::string_view n) {
  return n == "SCMP_ACT_KILL" || n == "SCMP_ACT_KILL_THREAD" || n == "SCMP_ACT_KILL_PROCESS" ||
         n == "SCMP_ACT_TRAP" || n == "SCMP_ACT_ERRNO" || n == "SCMP_ACT_TRACE" ||
         n == "SCMP_ACT_ALLOW" || n == "SCMP_ACT_LOG";
}

bool is_seccomp_operator(std::string_view n) {
  return n == "SCMP_CMP_NE" || n == "SCMP_CMP_LT" || n == "SCMP_CMP_LE" || n == "SCMP_CMP_EQ" ||
         n == "SCMP_CMP_GE" || n == "SCMP_CMP_GT" || n == "SCMP_CMP_MASKED_EQ";
}

}  // namespace kata_sentry
