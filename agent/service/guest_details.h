// What the guest kernel offers, for GetGuestDetails.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kata_sentry::agent {

struct GuestInfo {
  std::string kernel_release;
  std::string agent_version;
  std::vector<std::string> lsms;
  bool bpf_lsm_active = false;
  std::vector<std::string> cgroup_controllers;
};

// Reads uname, /sys/kernel/security/lsm and <cgroup_parent>/../cgroup.controllers. Never fails:
// a file that cannot be read leaves its field empty (securityfs may not be mounted).
GuestInfo collect_guest_info(const std::filesystem::path& cgroup_parent);

}  // namespace kata_sentry::agent
