#include "guest-probes/deny_compiler.h"

#include <cstring>

namespace kata_sentry::guest_probes {
namespace {

constexpr uint64_t bit(int t) { return 1ULL << t; }

// Hooks whose records carry a full path that a rule can match (file_open, bprm_check,
// kernel_read_file: d_path; module_request: the module name; sb_mount: source or target).
constexpr uint64_t kPathTypes = bit(KS_EVT_LSM_FILE_OPEN) | bit(KS_EVT_LSM_BPRM_CHECK) |
                                bit(KS_EVT_LSM_KERNEL_READ_FILE) |
                                bit(KS_EVT_LSM_MODULE_REQUEST) | bit(KS_EVT_LSM_SB_MOUNT);

std::string type_name(EventType t) {
  auto n = event_type_name(t);
  return n.empty() ? std::to_string(int(t)) : std::string(n);
}

}  // namespace

uint64_t lsm_type_mask(EventType type) {
  switch (type) {
    case EventType::open:
    case EventType::openat:
    case EventType::openat2:
    case EventType::lsm_file_open: return bit(KS_EVT_LSM_FILE_OPEN);
    case EventType::execve:
    case EventType::execveat:
    case EventType::lsm_bprm_check: return bit(KS_EVT_LSM_BPRM_CHECK);
    // init_module passes an image, not a file: it reaches kernel_load_data, not hooked.
    case EventType::finit_module:
    case EventType::lsm_kernel_read_file: return bit(KS_EVT_LSM_KERNEL_READ_FILE);
    case EventType::lsm_module_request: return bit(KS_EVT_LSM_MODULE_REQUEST);
    case EventType::ptrace:
    case EventType::lsm_ptrace_access: return bit(KS_EVT_LSM_PTRACE_ACCESS);
    case EventType::bpf:
    case EventType::lsm_bpf: return bit(KS_EVT_LSM_BPF);
    case EventType::connect:
    case EventType::lsm_socket_connect: return bit(KS_EVT_LSM_SOCKET_CONNECT);
    case EventType::mknodat:
    case EventType::lsm_inode_mknod: return bit(KS_EVT_LSM_INODE_MKNOD);
    case EventType::mount:
    case EventType::lsm_sb_mount: return bit(KS_EVT_LSM_SB_MOUNT);
    default: return 0;
  }
}

CompiledDenySet compile_deny_set(const std::vector<DenyRule>& rules, const ContainerCgroups& cg) {
  CompiledDenySet out;
  for (size_t id = 0; id < rules.size(); ++id) {
    const DenyRule& r = rules[id];
    auto refuse = [&](const std::string& why) { out.refused.push_back(r.name + ": " + why); };
    if (r.event_types.empty()) {
      refuse("no event type");
      continue;
    }
    uint64_t mask = 0;
    std::string unsupported;
    for (EventType t : r.event_types) {
      uint64_t m = lsm_type_mask(t);
      if (!m) unsupported += (unsupported.empty() ? "" : ", ") + type_name(t);
      mask |= m;
    }
    if (!unsupported.empty()) {
      refuse("no guest LSM hook enforces evt.type " + unsupported);
      continue;
    }
    const bool has_paths = !r.exact_paths.empty() || !r.path_prefixes.empty();
    if (has_paths && (mask & ~kPathTypes)) {
      refuse("a path condition cannot be checked at the guest LSM hook for every listed evt.type "
             "(mknod, connect, bpf and ptrace carry no path)");
      continue;
    }
    if (!r.binaries.empty()) {
      refuse("proc.exepath cannot be matched by the guest LSM; use proc.name");
      continue;
    }
    bool bad_len = false;
    for (const auto& p : r.exact_paths) bad_len |= p.empty() || p.size() >= KS_DENY_PATH_LEN;
    for (const auto& p : r.path_prefixes) bad_len |= p.empty() || p.size() >= KS_DENY_PATH_LEN;
    if (bad_len) {
      refuse("a path is empty or longer than " + std::to_string(KS_DENY_PATH_LEN - 1) + " bytes");
      continue;
    }
    bool bad_comm = false;
    for (const auto& c : r.comms) bad_comm |= c.empty() || c.size() >= KS_COMM_LEN;
    if (bad_comm) {
      // The kernel's comm is cut at 15 bytes: a longer name can never be equal.
      refuse("a proc.name is empty or longer than 15 bytes");
      continue;
    }

    // Cgroup alternatives: explicit ids, the running containers named, or "any container".
    std::vector<uint64_t> cgroups = r.cgroup_ids;
    bool cgroup_constrained = !r.cgroup_ids.empty();
    if (!r.container_ids.empty()) {
      cgroup_constrained = true;
      for (const auto& c : r.container_ids)
        if (auto it = cg.containers.find(c); it != cg.containers.end()) cgroups.push_back(it->second);
    }
    if (r.any_container && !cgroup_constrained) {
      if (!cg.parent_cgroup_id) {
        refuse("container.id != host: the containers' cgroup parent is unknown");
        continue;
      }
      cgroups.push_back(cg.parent_cgroup_id);
      cgroup_constrained = true;
    }

    struct PathAlt { const std::string* p; bool prefix; };
    std::vector<PathAlt> paths;
    for (const auto& p : r.exact_paths) paths.push_back({&p, false});
    for (const auto& p : r.path_prefixes) paths.push_back({&p, true});
    const size_t np = paths.empty() ? 1 : paths.size();
    const size_t nc = r.comms.empty() ? 1 : r.comms.size();
    const size_t ng = cgroup_constrained ? cgroups.size() : 1;  // 0: nothing to match yet
    const size_t need = np * nc * ng;
    if (out.entries.size() + need > KS_DENY_MAX_RULES) {
      refuse("needs " + std::to_string(need) + " kernel entries; only " +
             std::to_string(KS_DENY_MAX_RULES - out.entries.size()) + " of " +
             std::to_string(KS_DENY_MAX_RULES) + " left");
      continue;
    }
    for (size_t ip = 0; ip < np; ++ip)
      for (size_t ic = 0; ic < nc; ++ic)
        for (size_t ig = 0; ig < ng; ++ig) {
          ks_deny_rule e{};
          e.type_mask = mask;
          e.rule_id = uint32_t(id);
          if (r.uid) {
            e.flags |= KS_DENY_F_UID;
            e.uid = *r.uid;
          }
          if (!paths.empty()) {
            const auto& alt = paths[ip];
            e.flags |= alt.prefix ? KS_DENY_F_PATH_PREFIX : KS_DENY_F_PATH_EXACT;
            e.path_len = uint16_t(alt.p->size());
            std::memcpy(e.path, alt.p->data(), alt.p->size());
          }
          if (!r.comms.empty()) {
            e.flags |= KS_DENY_F_COMM;
            std::memcpy(e.comm, r.comms[ic].data(), r.comms[ic].size());
          }
          if (cgroup_constrained) {
            e.flags |= KS_DENY_F_CGROUP;
            e.cgroup_id = cgroups[ig];
          }
          out.entries.push_back(e);
        }
    ++out.installed;
  }
  return out;
}

}  // namespace kata_sentry::guest_probes
