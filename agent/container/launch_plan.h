// Everything the container child needs, computed and validated in the agent before clone: after
// clone the child of a multithreaded process must not allocate (another thread may have held the
// malloc lock), so it only reads these structures and makes raw syscalls.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct CapSets {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

// One process image: the container init, or an exec.
struct ProcessPlan {
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;         // null-terminated, point into the storage
  std::vector<std::string> path_dirs;    // PATH search when argv[0] has no '/'
  std::string cwd;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  CapSets caps;
  int last_cap = 40;                     // /proc/sys/kernel/cap_last_cap
  struct Rlimit {
    int resource;
    rlimit limit;
    std::string name;  // for messages
  };
  std::vector<Rlimit> rlimits;
  bool no_new_privs = false;
  std::vector<sock_filter> seccomp;      // empty: no filter
  bool terminal = false;                 // stdio is a pty slave: make it the controlling tty
  mode_t umask = 022;
  std::string oom_score_adj;             // decimal text for /proc/self/oom_score_adj; empty: leave
};

struct MountPlan {
  std::string destination;     // inside the container, for messages
  std::string target;          // rootfs + destination, where it is mounted before pivot_root
  std::string source;
  std::string fstype;          // empty for bind mounts
  unsigned long flags = 0;     // for the first mount(2)
  std::string data;            // fs-specific options
  unsigned long remount_flags = 0;  // bind mounts: MS_RDONLY/MS_NOSUID/... need a remount
  unsigned long propagation = 0;    // MS_PRIVATE/MS_SLAVE/... (| MS_REC)
  bool bind = false;
  bool file_target = false;    // bind of a non-directory: the target is a file
};

struct NamespaceJoin {
  int fd = -1;  // opened O_CLOEXEC in the agent; owned by InitPlan
  int type = 0; // CLONE_NEW*
  std::string path;
};

struct InitPlan {
  std::string container_id;
  int clone_flags = 0;              // CLONE_NEW* created at clone (all but cgroup)
  bool new_cgroup_ns = false;       // unshared after the agent moved us into the cgroup
  bool new_user_ns = false;
  std::vector<NamespaceJoin> joins;
  std::vector<OciIdMapping> uid_mappings, gid_mappings;
  std::string rootfs;               // absolute
  bool readonly_root = false;
  std::vector<MountPlan> mounts;
  bool populate_dev = false;        // /dev is a tmpfs from the spec: add the standard nodes
  std::vector<std::string> masked_paths, readonly_paths;
  std::vector<std::pair<std::string, std::string>> sysctls;  // /proc/sys/... path, value
  std::string hostname;             // empty: leave as is
  ProcessPlan process;

  InitPlan() = default;
  InitPlan(const InitPlan&) = delete;
  InitPlan& operator=(const InitPlan&) = delete;
  InitPlan(InitPlan&&) = default;
  ~InitPlan();                      // closes the namespace fds
};

// Validates the process against this kernel and builds its plan. `seccomp` is the container's
// profile (shared by init and execs). Fails with invalid_argument naming the field.
Result<ProcessPlan> plan_process(const OciProcess& process, const std::optional<OciSeccomp>& seccomp);

// Validates the whole spec (mount ns required, hostname needs uts ns, rootfs exists, bind
// sources exist, mount options known, ...) and builds the init plan.
Result<InitPlan> plan_init(const OciSpec& spec, const std::string& container_id,
                           const std::filesystem::path& bundle_dir);

// Mount options → flags. Unknown options go to `data` (fs-specific, e.g. "mode=755").
void parse_mount_options(const std::vector<std::string>& options, MountPlan& plan);

}  // namespace kata_sentry::agent
