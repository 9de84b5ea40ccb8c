#include "agent/service/guest_details.h"

#include <sys/utsname.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kata_sentry::agent {
namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) {
    while (!item.empty() && (item.back() == '\n' || item.back() == ' ')) item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string read_small(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

GuestInfo collect_guest_info(const std::filesystem::path& cgroup_parent) {
  GuestInfo g;
  struct utsname u{};
  if (::uname(&u) == 0) g.kernel_release = u.release;
  g.agent_version = KS_AGENT_VERSION;
  g.lsms = split(read_small("/sys/kernel/security/lsm"), ',');
  g.bpf_lsm_active = std::find(g.lsms.begin(), g.lsms.end(), "bpf") != g.lsms.end();
  // The parent may not exist yet (created with the first container); its parent is the
  // hierarchy whose controllers the containers can get.
  g.cgroup_controllers = split(read_small(cgroup_parent.parent_path() / "cgroup.controllers"), ' ');
  return g;
}

}  // namespace kata_sentry::agent
