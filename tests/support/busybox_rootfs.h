// A container root filesystem from the host's static busybox: the directories a container's
// init expects plus one symlink per applet (like `busybox --install -s`). Shared by the
// container and agent tests, which run real containers without a guest image.
#pragma once

#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <string>

namespace kata_sentry::testing {

// Builds `root` (its parents are created). Returns "" or what went wrong.
inline std::string make_busybox_rootfs(const std::filesystem::path& root,
                                       std::initializer_list<const char*> extra_dirs = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root"}) fs::create_directories(root / d, ec);
  for (const char* d : extra_dirs) fs::create_directories(root / d, ec);
  if (ec) return "create " + root.string() + ": " + ec.message();
  fs::copy_file("/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return "copy /bin/busybox: " + ec.message();
  FILE* list = ::popen("/bin/busybox --list", "r");
  if (!list) return "run /bin/busybox --list";
  char name[128];
  while (std::fgets(name, sizeof name, list)) {
    std::string n(name);
    while (!n.empty() && n.back() == '\n') n.pop_back();
    if (!n.empty() && n != "busybox") fs::create_symlink("busybox", root / "bin" / n, ec);
  }
  ::pclose(list);
  return "";
}

}  // namespace kata_sentry::testing
