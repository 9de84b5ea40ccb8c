#include "core/cgroup2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/logging.h"
#include "core/read_file.h"

namespace kata_sentry {
namespace {

Status write_file(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path);
  ssize_t n = ::write(fd, text.data(), text.size());
  int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    errno = saved;
    return fail_errno("write " + text + " to " + path);
  }
  return {};
}

}  // namespace

Result<std::string> cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 0:31 / /sys/fs/cgroup/unified rw,... shared:9 - cgroup2 cgroup2 rw,..."
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, mountpoint;
    head >> id >> parent >> devno >> root >> mountpoint;
    if (root == "/") return mountpoint;  // a bind of a subtree would hide the rest
  }
  return fail(ErrorCode::not_found, "no cgroup2 mount in /proc/self/mountinfo");
}

Result<uint64_t> cgroup2_id(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail_errno("stat " + dir);
  return static_cast<uint64_t>(st.st_ino);
}

Status cgroup2_add(const std::string& dir, pid_t pid) {
  return write_file(dir + "/cgroup.procs", std::to_string(pid));
}

Result<std::unique_ptr<CgroupDir>> CgroupDir::create(const std::string& relative) {
  auto mount = cgroup2_mount();
  if (!mount) return std::unexpected(mount.error());
  std::filesystem::path p = std::filesystem::path(*mount) / relative;
  // Another CgroupDir's destructor may remove the shared parent between the two steps: retry.
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return fail(ErrorCode::io, "create cgroup " + p.parent_path().string() + ": " + ec.message());
    if (::mkdir(p.c_str(), 0755) == 0) break;
    if (errno != ENOENT || attempt == 3) return fail_errno("create cgroup " + p.string());
  }
  return std::unique_ptr<CgroupDir>(new CgroupDir(p.string(), *mount));
}

namespace {

// rmdir `path`, making way for it: leftovers are killed or moved to the parent; then the empty
// parents up to `mount`. A process that is exiting leaves its cgroup a moment later: retried.
Status remove_dir(const std::string& path, const std::string& mount, bool kill_leftovers) {
  std::filesystem::path p(path);
  std::string parent = p.parent_path().string();
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) break;
    if (errno != EBUSY || attempt == 50) return fail_errno("remove cgroup " + path);
    if (kill_leftovers) {
      (void)write_file(path + "/cgroup.kill", "1");
    } else {
      std::istringstream procs(read_small_file(path + "/cgroup.procs").value_or(""));
      std::vector<std::string> pids;
      for (std::string pid; std::getline(procs, pid);) pids.push_back(pid);
      for (const auto& pid : pids) (void)write_file(parent + "/cgroup.procs", pid);
    }
    ::usleep(10000);
  }
  // Parents created for grouping (kata-sentry/) go with the last child; a busy one stays.
  for (auto dir = p.parent_path(); dir.string().size() > mount.size(); dir = dir.parent_path())
    if (::rmdir(dir.c_str()) != 0) break;
  return {};
}

}  // namespace

Status cgroup2_remove(const std::string& relative, bool kill_leftovers) {
  auto mount = cgroup2_mount();
  if (!mount) return std::unexpected(mount.error());
  return remove_dir((std::filesystem::path(*mount) / relative).string(), *mount, kill_leftovers);
}

CgroupDir::~CgroupDir() {
  // A process still inside (a child that outlived its owner) goes to the parent, so the
  // directory can go; it keeps running, outside the sandbox's cgroup programs.
  if (auto st = remove_dir(path_, mount_, false); !st)
    logger("runtime")->warn("cgroup {} not removed: {}", path_, st.error().describe());
}

}  // namespace kata_sentry
