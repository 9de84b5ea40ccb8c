#include "guest-probes/deny_compiler.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace kata_sentry::guest_probes {
namespace {

using T = EventType;

// x86-64 syscall numbers of the syscalls that share a hook with others.
constexpr int32_t kNrInitModule = 175, kNrFinitModule = 313, kNrKexecLoad = 246, kNrKexecFileLoad = 320;
constexpr int32_t kNrOpenByHandleAt = 304, kNrProcessVmReadv = 310, kNrProcessVmWritev = 311;

// Hooks whose records carry a path a rule can match (d_path of the file, the module name, the
// mount source or target, the name of an anonymous file).
bool has_path(T hook) {
  switch (hook) {
    case T::lsm_file_open: case T::lsm_bprm_check: case T::lsm_kernel_read_file: case T::lsm_module_request:
    case T::lsm_sb_mount: case T::lsm_anon_inode: case T::lsm_sb_pivotroot:
      return true;
    default:
      return false;
  }
}
// Hooks whose records carry the object's identity (device numbers, links, file system).
bool has_object(T hook) { return hook == T::lsm_file_open || hook == T::lsm_bprm_check; }
// ... or at least what a new node will be (mknod: its type and device).
bool has_node(T hook) { return has_object(hook) || hook == T::lsm_inode_mknod; }

std::string type_name(T t) {
  auto n = event_type_name(t);
  return n.empty() ? std::to_string(int(t)) : std::string(n);
}

// One alternative of an entry's path-like part.
struct PathAlt {
  std::string text;
  uint32_t flag;  // KS_DENY_F_PATH_EXACT, _PATH_PREFIX or _FSTYPE
};

}  // namespace

std::optional<HookMatch> hook_for(EventType type) {
  switch (type) {
    case T::open: case T::openat: case T::openat2: case T::lsm_file_open: return HookMatch{T::lsm_file_open};
    case T::open_by_handle_at: return HookMatch{T::lsm_file_open, kNrOpenByHandleAt};
    case T::execve: case T::execveat: case T::lsm_bprm_check: return HookMatch{T::lsm_bprm_check};
    case T::finit_module: return HookMatch{T::lsm_kernel_read_file, kNrFinitModule};
    case T::kexec_file_load: return HookMatch{T::lsm_kernel_read_file, kNrKexecFileLoad};
    case T::lsm_kernel_read_file: return HookMatch{T::lsm_kernel_read_file};
    case T::init_module: return HookMatch{T::lsm_kernel_load_data, kNrInitModule};
    case T::kexec_load: return HookMatch{T::lsm_kernel_load_data, kNrKexecLoad};
    case T::lsm_kernel_load_data: return HookMatch{T::lsm_kernel_load_data};
    case T::lsm_module_request: return HookMatch{T::lsm_module_request};
    case T::ptrace: case T::lsm_ptrace_access: return HookMatch{T::lsm_ptrace_access};
    case T::process_vm_readv: return HookMatch{T::lsm_ptrace_access, kNrProcessVmReadv};
    case T::process_vm_writev: return HookMatch{T::lsm_ptrace_access, kNrProcessVmWritev};
    case T::bpf: case T::lsm_bpf: return HookMatch{T::lsm_bpf};
    case T::connect: case T::lsm_socket_connect: return HookMatch{T::lsm_socket_connect};
    case T::socket: case T::lsm_socket_create: return HookMatch{T::lsm_socket_create};
    case T::mknodat: case T::lsm_inode_mknod: return HookMatch{T::lsm_inode_mknod};
    case T::mount: case T::lsm_sb_mount: return HookMatch{T::lsm_sb_mount};
    case T::pivot_root: case T::lsm_sb_pivotroot: return HookMatch{T::lsm_sb_pivotroot};
    case T::io_uring_setup: return HookMatch{T::lsm_anon_inode, std::nullopt, "anon_inode:[io_uring]"};
    case T::userfaultfd: return HookMatch{T::lsm_anon_inode, std::nullopt, "anon_inode:[userfaultfd]"};
    case T::lsm_anon_inode: return HookMatch{T::lsm_anon_inode};
    case T::perf_event_open: case T::lsm_perf_event_open: return HookMatch{T::lsm_perf_event_open};
    case T::unshare: case T::lsm_userns_create: return HookMatch{T::lsm_userns_create};
    default: return std::nullopt;
  }
}

namespace {

// The matchers of one rule (or of one of its exceptions) checked and expanded into entries
// for the given hooks. Returns the reason when they cannot be enforced.
struct Expansion {
  std::vector<ks_deny_rule> entries;
  std::string refused;
};

Expansion expand(const DenyRule& r, const std::vector<HookMatch>& hooks, const ContainerCgroups& cg, uint32_t rule_id,
                 bool allow) {
  Expansion x;
  auto refuse = [&](std::string why) {
    x.refused = std::move(why);
    return x;
  };
  const bool has_paths = !r.exact_paths.empty() || !r.path_prefixes.empty();
  auto every_hook = [&](auto pred) { return std::all_of(hooks.begin(), hooks.end(), [&](const HookMatch& h) { return pred(h.hook); }); };
  if (has_paths && !every_hook(has_path))
    return refuse("a path condition cannot be checked at the guest LSM hook for every listed evt.type "
                  "(mknod, connect, bpf, ptrace, perf and sockets carry no path)");
  if (!r.binaries.empty())
    return refuse("proc.exepath cannot be matched by the guest LSM; use proc.name (or proc.exepath startswith, for execs)");
  if (!r.exe_prefixes.empty() && !every_hook([](T h) { return h == T::lsm_bprm_check; }))
    return refuse("proc.exepath startswith is checked at the exec hook only: every evt.type must be an exec");
  if ((!r.fstypes.empty() || r.mount_side) && !every_hook([](T h) { return h == T::lsm_sb_mount; }))
    return refuse("a file system type, source or target (evt.arg.type, .dev, .dir) is checked at the mount hook only");
  if ((r.unlinked || r.fs_magic) && !every_hook(has_object))
    return refuse("proc.is_exe_deleted and fd.fs_type need the object: only file_open and exec hooks have it");
  if ((r.rdev_major || !r.rdev_minors.empty() || r.device_kind) && !every_hook(has_node))
    return refuse("device numbers are checked at file_open, exec and mknod only");
  // Major 1 is /dev/mem's as a char device and a RAM disk's as a block device.
  if ((r.rdev_major || !r.rdev_minors.empty()) && !r.device_kind)
    return refuse("fd.rdev.major/minor need fd.is_char_device = true or fd.is_block_device = true");
  if (!r.rdev_minors.empty() && !r.rdev_major) return refuse("fd.rdev.minor needs fd.rdev.major");
  // The argument is looked up in each hook's own record.
  std::vector<int> arg_index;
  for (const auto& h : hooks) {
    int idx = -1;
    if (r.arg) {
      auto i = event_arg_index(h.hook, r.arg->name);
      if (!i || *i > 2)
        return refuse("evt.arg." + r.arg->name + " is not in the " + type_name(h.hook) + " record the guest LSM decides on");
      idx = int(*i);
    }
    arg_index.push_back(idx);
  }
  for (const auto& h : hooks)
    if (r.syscall && h.syscall && *r.syscall != *h.syscall) return refuse("evt.syscall_nr contradicts the syscall evt.type names");
  std::vector<PathAlt> paths;
  for (const auto& p : r.exact_paths) paths.push_back({p, KS_DENY_F_PATH_EXACT});
  for (const auto& p : r.path_prefixes) paths.push_back({p, KS_DENY_F_PATH_PREFIX});
  for (const auto& p : r.exe_prefixes) paths.push_back({p, KS_DENY_F_PATH_PREFIX});  // the file being exec'd
  for (const auto& f : r.fstypes) paths.push_back({f, KS_DENY_F_FSTYPE});
  if (std::any_of(paths.begin(), paths.end(), [](const PathAlt& p) { return p.text.empty() || p.text.size() >= KS_DENY_PATH_LEN; }))
    return refuse("a path is empty or longer than " + std::to_string(KS_DENY_PATH_LEN - 1) + " bytes");
  // The kernel's comm is cut at 15 bytes: a longer name can never be equal.
  for (const auto& c : r.comms)
    if (c.empty() || c.size() >= KS_COMM_LEN) return refuse("a proc.name is empty or longer than 15 bytes");

  // Cgroup alternatives: explicit ids, the running containers named, or "any container".
  std::vector<uint64_t> cgroups = r.cgroup_ids;
  bool cgroup_constrained = !r.cgroup_ids.empty();
  if (!r.container_ids.empty()) {
    cgroup_constrained = true;
    for (const auto& c : r.container_ids)
      if (auto it = cg.containers.find(c); it != cg.containers.end()) cgroups.push_back(it->second);
  }
  if (r.any_container && !cgroup_constrained) {
    if (!cg.parent_cgroup_id) return refuse("container.id != host: the containers' cgroup parent is unknown");
    cgroups.push_back(cg.parent_cgroup_id);
    cgroup_constrained = true;
  }

  for (size_t ih = 0; ih < hooks.size(); ++ih) {
    const HookMatch& h = hooks[ih];
    std::vector<PathAlt> hook_paths = paths;
    // Without a path of its own, a syscall is told by the name of the file it makes. An
    // exception needs no such name: it only ever lets this rule's entries go.
    if (hook_paths.empty() && h.exact_path && !allow) hook_paths.push_back({h.exact_path, KS_DENY_F_PATH_EXACT});
    const size_t np = hook_paths.empty() ? 1 : hook_paths.size();
    const size_t nm = r.rdev_minors.empty() ? 1 : r.rdev_minors.size();
    const size_t nc = r.comms.empty() ? 1 : r.comms.size();
    const size_t ng = cgroup_constrained ? cgroups.size() : 1;  // 0: nothing to match yet
    for (size_t ip = 0; ip < np; ++ip)
      for (size_t im = 0; im < nm; ++im)
        for (size_t ic = 0; ic < nc; ++ic)
          for (size_t ig = 0; ig < ng; ++ig) {
            ks_deny_rule e{};
            e.type = uint16_t(h.hook);
            e.rule_id = rule_id;
            if (allow) e.flags |= KS_DENY_F_ALLOW;
            if (r.uid) {
              e.flags |= KS_DENY_F_UID;
              e.uid = *r.uid;
            }
            if (!hook_paths.empty()) {
              const auto& alt = hook_paths[ip];
              e.flags |= alt.flag;
              e.path_len = uint16_t(alt.text.size());
              std::memcpy(e.path, alt.text.data(), alt.text.size());
            }
            if (!r.comms.empty()) {
              e.flags |= KS_DENY_F_COMM;
              std::memcpy(e.comm, r.comms[ic].data(), r.comms[ic].size());
            }
            if (cgroup_constrained) {
              e.flags |= KS_DENY_F_CGROUP;
              e.cgroup_id = cgroups[ig];
            }
            if (r.arg) {
              e.flags |= r.arg->any_bit ? KS_DENY_F_ARG_ANY_BIT : KS_DENY_F_ARG_EQ;
              e.arg_index = uint8_t(arg_index[ih]);
              e.arg_value = r.arg->value;
            }
            if (auto nr = r.syscall ? r.syscall : allow ? std::nullopt : h.syscall) {
              e.flags |= KS_DENY_F_SYSCALL;
              e.syscall = *nr;
            }
            if (r.device_kind) {
              e.flags |= KS_DENY_F_DEVICE_KIND;
              e.device_kind = uint8_t(r.device_kind);
            }
            if (r.rdev_major) {
              e.flags |= KS_DENY_F_RDEV_MAJOR;
              e.rdev_major = *r.rdev_major;
            }
            if (!r.rdev_minors.empty()) {
              e.flags |= KS_DENY_F_RDEV_MINOR;
              e.rdev_minor = r.rdev_minors[im];
            }
            if (r.unlinked) e.flags |= KS_DENY_F_UNLINKED;
            if (r.mount_side) e.flags |= r.mount_side == 's' ? KS_DENY_F_MOUNT_SOURCE : KS_DENY_F_MOUNT_TARGET;
            if (r.fs_magic) {
              e.flags |= KS_DENY_F_FS_MAGIC;
              e.fs_magic = *r.fs_magic;
            }
            x.entries.push_back(e);
          }
  }
  return x;
}

}  // namespace

CompiledDenySet compile_deny_set(const std::vector<DenyRule>& rules, const ContainerCgroups& cg) {
  CompiledDenySet out;
  for (size_t id = 0; id < rules.size(); ++id) {
    const DenyRule& r = rules[id];
    auto refuse = [&](const std::string& why) { out.refused.push_back(r.name + ": " + why); };
    if (r.event_types.empty()) {
      refuse("no event type");
      continue;
    }
    std::vector<HookMatch> hooks;
    std::string unsupported;
    for (EventType t : r.event_types) {
      auto h = hook_for(t);
      if (!h) {
        unsupported += (unsupported.empty() ? "" : ", ") + type_name(t);
        continue;
      }
      bool dup = std::any_of(hooks.begin(), hooks.end(), [&](const HookMatch& x) {
        return x.hook == h->hook && x.syscall == h->syscall && x.exact_path == h->exact_path;
      });
      if (!dup) hooks.push_back(*h);
    }
    if (!unsupported.empty()) {
      refuse("no guest LSM hook enforces evt.type " + unsupported);
      continue;
    }
    // A rule's exceptions come first: an allow entry that matches skips the rule's others.
    std::vector<ks_deny_rule> entries;
    std::string why;
    for (const auto& ex : r.exceptions) {
      if (!ex.event_types.empty() || !ex.exceptions.empty()) {
        why = "an exception names event types or has exceptions of its own";
        break;
      }
      auto x = expand(ex, hooks, cg, uint32_t(id), true);
      if (!x.refused.empty()) {
        why = "exception: " + x.refused;
        break;
      }
      entries.insert(entries.end(), x.entries.begin(), x.entries.end());
    }
    if (why.empty()) {
      auto x = expand(r, hooks, cg, uint32_t(id), false);
      why = x.refused;
      entries.insert(entries.end(), x.entries.begin(), x.entries.end());
    }
    if (!why.empty()) {
      refuse(why);
      continue;
    }
    if (out.entries.size() + entries.size() > KS_DENY_MAX_RULES) {
      refuse("needs " + std::to_string(entries.size()) + " kernel entries; only " +
             std::to_string(KS_DENY_MAX_RULES - out.entries.size()) + " of " + std::to_string(KS_DENY_MAX_RULES) + " left");
      continue;
    }
    out.entries.insert(out.entries.end(), entries.begin(), entries.end());
    ++out.installed;
  }
  // One range per hook: the entries of a hook contiguous, in rule order (the first match
  // decides; a rule's allow entries stay before its deny entries).
  std::stable_sort(out.entries.begin(), out.entries.end(), [](const ks_deny_rule& a, const ks_deny_rule& b) { return a.type < b.type; });
  for (size_t i = 0; i < out.entries.size(); ++i) {
    auto& range = out.ranges[out.entries[i].type & (KS_EVT_MAX - 1)];
    if (range.count == 0) range.start = uint16_t(i);
    ++range.count;
  }
  return out;
}

}  // namespace kata_sentry::guest_probes
