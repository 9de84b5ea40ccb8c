// cgroup v2 directories for sandboxes and tests. On hybrid hosts (v1 controllers mounted,
// cgroup2 at /sys/fs/cgroup/unified) and on pure v2 hosts alike, BPF cgroup programs attach
// only to directories of the v2 hierarchy; cgroup2_mount() finds it from /proc/self/mountinfo.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace kata_sentry {

// Where cgroup2 is mounted ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"); not_found without one.
Result<std::string> cgroup2_mount();

// A cgroup v2 id is the inode number of its directory.
Result<uint64_t> cgroup2_id(const std::string& dir);

// Moves `pid` (0: the caller) into the cgroup directory `dir`.
Status cgroup2_add(const std::string& dir, pid_t pid);

// The cgroup of a sandbox's host processes (QEMU, virtiofsd), relative to the cgroup2 mount.
inline std::string sandbox_cgroup_name(const std::string& sandbox_id) { return "kata-sentry/" + sandbox_id; }

// Removes <cgroup2 mount>/<relative> and then its parents up to the mount while they are
// empty. Processes still inside are killed (cgroup.kill) when `kill_leftovers`, else moved to
// the parent. Missing is fine; fails when the directory stays (named with its errno).
Status cgroup2_remove(const std::string& relative, bool kill_leftovers);

// A cgroup directory this process created: removed by the destructor (after moving any process
// still in it to the parent, so that a leftover process cannot pin it), with the parents
// between it and the mount when they are empty. Not copyable.
class CgroupDir {
 public:
  // Creates <cgroup2 mount>/<relative> (and missing parents, shared between sandboxes).
  // Fails when there is no cgroup2 or mkdir fails.
  static Result<std::unique_ptr<CgroupDir>> create(const std::string& relative);
  ~CgroupDir();
  CgroupDir(const CgroupDir&) = delete;
  CgroupDir& operator=(const CgroupDir&) = delete;

  const std::string& path() const { return path_; }
  Status add(pid_t pid) const { return cgroup2_add(path_, pid); }

 private:
  CgroupDir(std::string path, std::string mount) : path_(std::move(path)), mount_(std::move(mount)) {}
  std::string path_;
  std::string mount_;
};

}  // namespace kata_sentry
