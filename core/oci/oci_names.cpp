#include "core/oci/oci_names.h"

#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <utility>

namespace kata_sentry {

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
