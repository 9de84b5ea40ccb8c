#include "agent/container/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/logging.h"

namespace kata_sentry::agent {
namespace fs = std::filesystem;
namespace {

Status write_file(const fs::path& file, const std::string& value) {
  // O_CREAT only matters for plain directories (unit tests); cgroupfs files already exist.
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail_errno("open " + file.string());
  ssize_t n = ::write(fd, value.data(), value.size());
  int saved = errno;
  ::close(fd);
  if (n != ssize_t(value.size())) {
    errno = n < 0 ? saved : EIO;
    return fail_errno("write \"" + value + "\" to " + file.string());
  }
  return {};
}

std::optional<std::string> read_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_token(const std::string& text, const std::string& token) {
  std::istringstream in(text);
  std::string t;
  while (in >> t) {
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) t.erase(0, 1);
    if (t == token) return true;
  }
  return false;
}

std::optional<uint64_t> read_u64(const fs::path& file) {
  auto text = read_file(file);
  if (!text) return std::nullopt;
  try {
    return std::stoull(*text);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::vector<CgroupWrite> cgroup_limit_writes(const OciResources& r) {
  std::vector<CgroupWrite> w;
  if (r.memory_limit) {
    std::string v = *r.memory_limit < 0 ? "max" : std::to_string(*r.memory_limit);
    w.push_back({"memory", "memory.max", v, "linux.resources.memory.limit"});
  }
  if (r.pids_limit) {
    std::string v = *r.pids_limit <= 0 ? "max" : std::to_string(*r.pids_limit);
    w.push_back({"pids", "pids.max", v, "linux.resources.pids.limit"});
  }
  if (r.cpu_quota || r.cpu_period) {
    std::string quota = (!r.cpu_quota || *r.cpu_quota < 0) ? "max" : std::to_string(*r.cpu_quota);
    std::string period = std::to_string(r.cpu_period.value_or(100000));
    w.push_back({"cpu", "cpu.max", quota + " " + period, "linux.resources.cpu.quota"});
  }
  if (r.cpu_shares)
    w.push_back({"cpu", "cpu.weight", std::to_string(cpu_shares_to_weight(*r.cpu_shares)),
                 "linux.resources.cpu.shares"});
  return w;
}

Result<std::unique_ptr<CgroupDir>> CgroupDir::create(const fs::path& parent, const std::string& name) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return fail(ErrorCode::io, "create cgroup parent " + parent.string() + ": " + ec.message(), ec.value());
  fs::path path = parent / name;
  if (::mkdir(path.c_str(), 0755) != 0) return fail_errno("create cgroup " + path.string());
  return std::unique_ptr<CgroupDir>(new CgroupDir(path));
}

CgroupDir::~CgroupDir() {
  kill_all();
  // Killed processes leave the cgroup asynchronously; rmdir says EBUSY until they have.
  for (int i = 0; i < 200; ++i) {
    if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A plain directory (unit tests) holds files and says ENOTEMPTY; cgroupfs never does.
  std::error_code ec;
  if (errno == ENOTEMPTY && fs::remove_all(path_, ec) > 0 && !ec) return;
  logger("agent")->error("remove cgroup {}: {}", path_.string(), std::strerror(errno));
}

// Enables `controller` for the children of `dir`, first for `dir` itself through its ancestors
// when they offer it but have not delegated it (the root cgroup usually has everything).
static bool delegate(const fs::path& dir, const std::string& controller, int depth) {
  auto enabled = read_file(dir / "cgroup.subtree_control");
  if (!enabled) return false;
  if (has_token(*enabled, controller)) return true;
  auto available = read_file(dir / "cgroup.controllers");
  if (!available) return false;
  if (!has_token(*available, controller)) {
    if (depth > 16 || !dir.has_parent_path() || dir.parent_path() == dir) return false;
    if (!delegate(dir.parent_path(), controller, depth + 1)) return false;
  }
  return write_file(dir / "cgroup.subtree_control", "+" + controller).has_value();
}

Status CgroupDir::enable_controller(const std::string& controller, const std::string& field) {
  fs::path parent = path_.parent_path();
  if (delegate(parent, controller, 0)) return {};
  auto available = read_file(parent / "cgroup.controllers");
  return fail(ErrorCode::unavailable,
              "cgroup " + parent.string() + ": controller " + controller + " not available (needed for " + field +
                  "; cgroup.controllers: \"" +
                  (available ? available->substr(0, available->find('\n')) : std::string("unreadable")) + "\")");
}

Status CgroupDir::apply_limits(const OciResources& res) {
  for (const auto& w : cgroup_limit_writes(res)) {
    if (auto st = enable_controller(w.controller, w.field); !st) return st;
    if (auto st = write_file(path_ / w.file, w.value); !st) {
      st.error().message = w.field + ": " + st.error().message;
      return st;
    }
  }
  return {};
}

Status CgroupDir::add_process(pid_t pid) { return write_file(path_ / "cgroup.procs", std::to_string(pid)); }

void CgroupDir::kill_all() noexcept {
  if (::access((path_ / "cgroup.kill").c_str(), W_OK) == 0) {
    int fd = ::open((path_ / "cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      bool ok = ::write(fd, "1", 1) == 1;
      ::close(fd);
      if (ok) return;
    }
  }
  // Repeat: a process may fork while we walk the list.
  for (int round = 0; round < 3; ++round) {
    std::ifstream in(path_ / "cgroup.procs");
    pid_t pid;
    bool any = false;
    while (in >> pid) {
      ::kill(pid, SIGKILL);
      any = true;
    }
    if (!any) return;
  }
}

Result<ContainerStats> CgroupDir::stats() const {
  if (::access(path_.c_str(), F_OK) != 0) return fail_errno("stats of cgroup " + path_.string());
  ContainerStats s;
  s.memory_current_bytes = read_u64(path_ / "memory.current");
  s.pids_current = read_u64(path_ / "pids.current");
  if (auto text = read_file(path_ / "cpu.stat")) {
    std::istringstream in(*text);
    std::string key;
    uint64_t value;
    while (in >> key >> value)
      if (key == "usage_usec") s.cpu_usage_usec = value;
  }
  return s;
}

}  // namespace kata_sentry::agent
