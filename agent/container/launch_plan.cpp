#include "agent/container/launch_plan.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/oci/oci_names.h"
#include "agent/container/seccomp_program.h"
#include "core/logging.h"

namespace kata_sentry::agent {
namespace fs = std::filesystem;
namespace {

int read_last_cap() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int v = 0;
  if (in >> v && v > 0 && v < 64) return v;
  return 40;  // CAP_CHECKPOINT_RESTORE, the last one of 6.x kernels
}

// The capabilities the agent itself holds: a child can never gain more, and capset fails with
// EPERM on any other bit (e.g. a host whose bounding set lacks CAP_SYS_RESOURCE).
uint64_t own_bounding_set(int last_cap) {
  uint64_t m = 0;
  for (int c = 0; c <= last_cap; ++c)
    if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) m |= uint64_t(1) << c;
  return m;
}

uint64_t cap_mask(const std::vector<std::string>& names, int last_cap) {
  uint64_t m = 0;
  for (const auto& n : names)
    if (auto c = capability_from_name(n); c && *c <= last_cap) m |= uint64_t(1) << *c;
  return m;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

// Lexically normalised absolute path without "..": a destination may not climb out of rootfs.
Result<std::string> clean_destination(const std::string& dest, const std::string& field) {
  fs::path p = fs::path(dest).lexically_normal();
  for (const auto& part : p)
    if (part == "..") return fail(ErrorCode::invalid_argument, field + ": \"" + dest + "\" must not contain \"..\"");
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  if (s.empty() || s[0] != '/') return fail(ErrorCode::invalid_argument, field + ": \"" + dest + "\" must be absolute");
  return s;
}

bool cgroup2_unified() {
  struct statfs st;
  return ::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

InitPlan::~InitPlan() {
  for (auto& j : joins)
    if (j.fd >= 0) ::close(j.fd);
}

void parse_mount_options(const std::vector<std::string>& options, MountPlan& m) {
  struct Flag {
    const char* name;
    bool clear;
    unsigned long flag;
  };
  static const Flag kFlags[] = {
      {"ro", false, MS_RDONLY},         {"rw", true, MS_RDONLY},          {"nosuid", false, MS_NOSUID},
      {"suid", true, MS_NOSUID},        {"nodev", false, MS_NODEV},       {"dev", true, MS_NODEV},
      {"noexec", false, MS_NOEXEC},     {"exec", true, MS_NOEXEC},        {"sync", false, MS_SYNCHRONOUS},
      {"async", true, MS_SYNCHRONOUS},  {"dirsync", false, MS_DIRSYNC},   {"remount", false, MS_REMOUNT},
      {"mand", false, MS_MANDLOCK},     {"nomand", true, MS_MANDLOCK},    {"noatime", false, MS_NOATIME},
      {"atime", true, MS_NOATIME},      {"nodiratime", false, MS_NODIRATIME}, {"diratime", true, MS_NODIRATIME},
      {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
      {"nostrictatime", true, MS_STRICTATIME}, {"bind", false, MS_BIND}, {"rbind", false, MS_BIND | MS_REC},
      {"nosymfollow", false, MS_NOSYMFOLLOW},
  };
  static const std::pair<const char*, unsigned long> kPropagation[] = {
      {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
      {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},          {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  for (const auto& opt : options) {
    bool known = false;
    for (const auto& f : kFlags)
      if (opt == f.name) {
        known = true;
        if (f.clear) m.flags &= ~f.flag;
        else m.flags |= f.flag;
      }
    for (const auto& [name, flag] : kPropagation)
      if (opt == name) {
        known = true;
        m.propagation = flag;
      }
    if (!known) m.data += (m.data.empty() ? "" : ",") + opt;
  }
  if (m.fstype == "bind") {
    m.fstype.clear();
    m.flags |= MS_BIND;
  }
  if (m.flags & MS_BIND) {
    m.bind = true;
    // MS_BIND ignores the other flags: they take effect through a remount of the new mount.
    m.remount_flags = m.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    m.flags &= (MS_BIND | MS_REC);
    m.data.clear();
  }
}

Result<ProcessPlan> plan_process(const OciProcess& process, const std::optional<OciSeccomp>& seccomp) {
  if (process.args.empty() || process.args[0].empty())
    return fail(ErrorCode::invalid_argument, "process.args: must be a non-empty array");
  if (process.cwd.empty() || process.cwd[0] != '/')
    return fail(ErrorCode::invalid_argument, "process.cwd: must be an absolute path");
  ProcessPlan p;
  p.argv_storage = process.args;
  p.env_storage = process.env;
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : process.env)
    if (e.starts_with("PATH=")) path = e.substr(5);
  p.path_dirs = split(path, ':');
  p.cwd = process.cwd;
  p.uid = process.user.uid;
  p.gid = process.user.gid;
  p.groups.assign(process.user.additional_gids.begin(), process.user.additional_gids.end());
  p.last_cap = read_last_cap();
  if (process.capabilities) {
    const OciCapabilities& c = *process.capabilities;
    p.caps = {cap_mask(c.bounding, p.last_cap), cap_mask(c.effective, p.last_cap),
              cap_mask(c.permitted, p.last_cap), cap_mask(c.inheritable, p.last_cap),
              cap_mask(c.ambient, p.last_cap)};
    const uint64_t own = own_bounding_set(p.last_cap);
    const uint64_t wanted = p.caps.bounding | p.caps.effective | p.caps.permitted | p.caps.inheritable | p.caps.ambient;
    if (wanted & ~own) {
      // Once per missing set, not per launch: a privileged spec asks for every capability.
      static std::atomic<uint64_t> warned{0};
      if ((wanted & ~own) & ~warned.fetch_or(wanted & ~own))
        logger("agent")->warn("process.capabilities: 0x{:x} not held by the agent, left out", wanted & ~own);
      for (uint64_t* set : {&p.caps.bounding, &p.caps.effective, &p.caps.permitted, &p.caps.inheritable, &p.caps.ambient})
        *set &= own;
    }
  }
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const OciRlimit& l = process.rlimits[i];
    auto res = rlimit_from_name(l.type);
    if (!res) return fail(ErrorCode::invalid_argument, "process.rlimits[" + std::to_string(i) + "].type: unknown rlimit \"" + l.type + "\"");
    p.rlimits.push_back({*res, rlimit{rlim_t(l.soft), rlim_t(l.hard)}, l.type});
  }
  p.no_new_privs = process.no_new_privileges;
  p.terminal = process.terminal;
  p.umask = mode_t(process.user.umask.value_or(022));
  if (process.oom_score_adj) p.oom_score_adj = std::to_string(*process.oom_score_adj);
  if (seccomp) {
    auto prog = compile_seccomp(*seccomp);
    if (!prog) return std::unexpected(prog.error());
    p.seccomp = std::move(*prog);
  }
  return p;
}

Result<InitPlan> plan_init(const OciSpec& spec, const std::string& container_id, const fs::path& bundle_dir) {
  static const std::regex kId("[A-Za-z0-9_.-]{1,64}");
  if (!std::regex_match(container_id, kId) || container_id == "." || container_id == "..")
    return fail(ErrorCode::invalid_argument, "container id \"" + container_id + "\": must match [A-Za-z0-9_.-]{1,64}");
  InitPlan plan;
  plan.container_id = container_id;

  bool new_mount = false, new_uts = false;
  for (size_t i = 0; i < spec.linux.namespaces.size(); ++i) {
    const OciNamespace& ns = spec.linux.namespaces[i];
    const std::string field = "linux.namespaces[" + std::to_string(i) + "]";
    auto flag = namespace_clone_flag(ns.type);
    if (!flag) return fail(ErrorCode::invalid_argument, field + ".type: unknown namespace \"" + ns.type + "\"");
    if (!ns.path.empty()) {
      if (*flag == CLONE_NEWPID || *flag == CLONE_NEWNS || *flag == CLONE_NEWUSER)
        return fail(ErrorCode::invalid_argument, field + ": joining a " + ns.type + " namespace by path is not supported");
      int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return fail_errno(field + ".path: open " + ns.path);
      plan.joins.push_back({fd, *flag, ns.path});
      continue;
    }
    if (*flag == CLONE_NEWCGROUP) plan.new_cgroup_ns = true;
    else plan.clone_flags |= *flag;
    new_mount |= *flag == CLONE_NEWNS;
    new_uts |= *flag == CLONE_NEWUTS;
    plan.new_user_ns |= *flag == CLONE_NEWUSER;
  }
  if (!new_mount)
    return fail(ErrorCode::invalid_argument, "linux.namespaces: a new mount namespace is required (pivot_root needs one)");
  if (!spec.hostname.empty() && !new_uts)
    return fail(ErrorCode::invalid_argument, "hostname: setting it requires a new uts namespace");
  if (plan.new_user_ns && (spec.linux.uid_mappings.empty() || spec.linux.gid_mappings.empty()))
    return fail(ErrorCode::invalid_argument, "linux.uidMappings/gidMappings: required with a new user namespace");
  plan.uid_mappings = spec.linux.uid_mappings;
  plan.gid_mappings = spec.linux.gid_mappings;

  fs::path root = spec.root.path;
  if (root.is_relative()) root = bundle_dir / root;
  std::error_code ec;
  fs::path canon = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canon))
    return fail(ErrorCode::invalid_argument, "root.path: " + root.string() + " is not a directory" +
                                                 (ec ? " (" + ec.message() + ")" : ""));
  plan.rootfs = canon.string();
  plan.readonly_root = spec.root.readonly;

  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const OciMount& m = spec.mounts[i];
    const std::string field = "mounts[" + std::to_string(i) + "]";
    auto dest = clean_destination(m.destination, field + ".destination");
    if (!dest) return std::unexpected(dest.error());
    MountPlan mp;
    mp.destination = *dest;
    mp.target = plan.rootfs + (*dest == "/" ? "" : *dest);
    mp.source = m.source;
    mp.fstype = m.type;
    parse_mount_options(m.options, mp);
    if (mp.bind) {
      fs::path src = m.source;
      if (src.is_relative()) src = bundle_dir / src;
      struct stat st;
      if (::stat(src.c_str(), &st) != 0) return fail_errno(field + ".source: bind source " + src.string());
      mp.source = src.string();
      mp.file_target = !S_ISDIR(st.st_mode);
    } else if (mp.fstype.empty()) {
      return fail(ErrorCode::invalid_argument, field + ".type: required for a non-bind mount");
    }
    if (mp.fstype == "cgroup" && cgroup2_unified()) {
      // Kubernetes specs ask for "cgroup"; on a cgroup2-only system (the guest) that means
      // cgroup2, as runc translates it. In our cgroup namespace it shows the container's own tree.
      mp.fstype = "cgroup2";
      mp.data.clear();
    }
    if (*dest == "/dev" && mp.fstype == "tmpfs") plan.populate_dev = true;
    plan.mounts.push_back(std::move(mp));
  }
  for (size_t i = 0; i < spec.linux.masked_paths.size(); ++i) {
    auto p = clean_destination(spec.linux.masked_paths[i], "linux.maskedPaths[" + std::to_string(i) + "]");
    if (!p) return std::unexpected(p.error());
    plan.masked_paths.push_back(*p);
  }
  for (size_t i = 0; i < spec.linux.readonly_paths.size(); ++i) {
    auto p = clean_destination(spec.linux.readonly_paths[i], "linux.readonlyPaths[" + std::to_string(i) + "]");
    if (!p) return std::unexpected(p.error());
    plan.readonly_paths.push_back(*p);
  }
  for (const auto& [name, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + name;
    for (size_t k = 10; k < path.size(); ++k)
      if (path[k] == '.') path[k] = '/';
    plan.sysctls.push_back({path, value});
  }
  plan.hostname = spec.hostname;

  auto proc = plan_process(spec.process, spec.linux.seccomp);
  if (!proc) return std::unexpected(proc.error());
  plan.process = std::move(*proc);
  return plan;
}

}  // namespace kata_sentry::agent
