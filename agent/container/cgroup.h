// A container's cgroup v2 directory: created under a parent, limits written from the OCI
// resources (enabling the needed controllers in the parent), removed on destruction.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/container/container.h"
#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::agent {

// One cgroup file write derived from the spec.
struct CgroupWrite {
  std::string controller;  // "memory", "pids", "cpu"
  std::string file;        // "memory.max"
  std::string value;       // "1048576", "max", "50000 100000"
  std::string field;       // the spec field it comes from, for errors
};

// The writes for a resources block, in a fixed order. Pure; never fails.
std::vector<CgroupWrite> cgroup_limit_writes(const OciResources& res);

// cgroup v1 cpu.shares [2, 262144] → cgroup v2 cpu.weight [1, 10000] (runc's formula).
uint64_t cpu_shares_to_weight(uint64_t shares);

class CgroupDir {
 public:
  // mkdir parent (recursively) and parent/name. Fails if name exists already (another
  // container owns it) or the directory cannot be made.
  static Result<std::unique_ptr<CgroupDir>> create(const std::filesystem::path& parent,
                                                   const std::string& name);
  // Kills every process left in the cgroup and removes the directory (retrying while the
  // kernel finishes tearing processes down). Errors are logged, never thrown.
  ~CgroupDir();
  CgroupDir(const CgroupDir&) = delete;
  CgroupDir& operator=(const CgroupDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes the limits. A controller missing from the parent's cgroup.subtree_control is
  // enabled there; if the parent cannot offer it, fails with ErrorCode::unavailable naming the
  // controller and the spec field. No limits → no writes, so a controller-less host works.
  Status apply_limits(const OciResources& res);

  // Moves a process into the cgroup (cgroup.procs).
  Status add_process(pid_t pid);

  // SIGKILLs every process in the cgroup: cgroup.kill where the kernel has it (5.14+), else
  // a kill(2) per pid in cgroup.procs. Never fails.
  void kill_all() noexcept;

  Result<ContainerStats> stats() const;

 private:
  explicit CgroupDir(std::filesystem::path path) : path_(std::move(path)) {}
  Status enable_controller(const std::string& controller, const std::string& field);

  std::filesystem::path path_;
};

}  // namespace kata_sentry::agent
