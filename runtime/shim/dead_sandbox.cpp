#include "runtime/shim/dead_sandbox.h"

#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "core/cgroup2.h"
#include "core/logging.h"

namespace kata_sentry::shim {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// mountinfo escapes blanks in paths as octal (\040).
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += char(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Status cleanup_dead_sandbox(const fs::path& root, const std::string& sandbox_id) {
  if (sandbox_id.empty() || sandbox_id == "." || sandbox_id == ".." || sandbox_id.find('/') != std::string::npos)
    return fail(ErrorCode::invalid_argument, "cleanup sandbox: \"" + sandbox_id + "\" is not a sandbox id");
  const fs::path dir = root / sandbox_id;
  const std::string prefix = dir.string() + "/";
  std::error_code ec;
  auto log = logger("shim");
  // The sandbox's host cgroup (QEMU, virtiofsd): whatever is still in it is the dead pod's.
  Status cgroup = cgroup2_remove(sandbox_cgroup_name(sandbox_id), true);
  if (!cgroup && cgroup.error().code != ErrorCode::not_found)
    log->warn("cleanup sandbox {}: {}", sandbox_id, cgroup.error().describe());
  if (!fs::exists(dir, ec)) return {};

  // Any process started from the sandbox dir (QEMU and virtiofsd name their sockets there).
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string cmd = read_text(e.path() / "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(prefix) != std::string::npos) {
      log->warn("cleanup sandbox {}: killing leftover pid {}", sandbox_id, name);
      ::kill(std::stoi(name), SIGKILL);
    }
  }

  std::vector<std::string> mounts;
  std::istringstream info(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(info, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, rootp, mnt;
    f >> id >> parent >> dev >> rootp >> mnt;
    mnt = unescape(mnt);
    if (mnt == dir.string() || mnt.starts_with(prefix)) mounts.push_back(mnt);
  }
  // Deepest first, so that no mount is busy with another one on top of it.
  std::sort(mounts.begin(), mounts.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  Status result;
  for (const auto& m : mounts) {
    if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && result) result = fail_errno("unmount " + m);
  }
  fs::remove_all(dir, ec);
  if (ec && result) result = fail(ErrorCode::io, "remove " + dir.string() + ": " + ec.message());
  log->info("cleaned up sandbox {} left by a dead shim", sandbox_id);
  return result;
}

}  // namespace kata_sentry::shim
