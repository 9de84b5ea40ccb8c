#include "agent/init/module_loader.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kata_sentry::agent {
namespace {

std::string module_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  if (auto dot = name.find(".ko"); dot != std::string::npos) name.resize(dot);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace

Result<ModuleLoader> ModuleLoader::open(const std::filesystem::path& module_dir) {
  ModuleLoader loader;
  loader.dir_ = module_dir;
  std::ifstream in(module_dir / "modules.dep");
  if (!in) return fail_errno("read " + (module_dir / "modules.dep").string());
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string path = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> deps;
    for (std::string dep; rest >> dep;) deps.push_back(dep);
    loader.path_by_name_[module_name(path)] = path;
    loader.deps_by_path_[path] = std::move(deps);
  }
  return loader;
}

Status ModuleLoader::load(const std::string& name) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  auto it = path_by_name_.find(key);
  // Not a module in this kernel: it is built in (or absent, which the mount will report).
  if (it == path_by_name_.end()) return {};
  return load_path(it->second, 0);
}

Status ModuleLoader::load_path(const std::string& path, int depth) {
  if (loaded_.contains(path)) return {};
  if (depth > 32) return fail(ErrorCode::internal, "load module " + path + ": dependency loop");
  // Each dependency's own dependencies first, whatever order depmod listed them in.
  for (const auto& dep : deps_by_path_[path]) {
    if (auto st = load_path(dep, depth + 1); !st) return st;
  }
  std::filesystem::path full = dir_ / path;
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("load module " + full.string() + ": open");
  long rc = ::syscall(SYS_finit_module, fd, "", 0);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EEXIST) {
    errno = err;
    return fail_errno("load module " + full.string() + ": finit_module");
  }
  loaded_.insert(path);
  return {};
}

}  // namespace kata_sentry::agent
