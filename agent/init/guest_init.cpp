#include "agent/init/guest_init.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/init/module_loader.h"

namespace kata_sentry::agent {
namespace {

struct MountStep {
  const char* source;
  const char* target;
  const char* fstype;
  unsigned long flags;
  const char* data;
  bool required;  // containers cannot run without it
};

constexpr unsigned long kNoDev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// Order matters: each target lives on a filesystem mounted before it.
constexpr MountStep kMounts[] = {
    {"proc", "/proc", "proc", kNoDev, nullptr, true},
    {"sysfs", "/sys", "sysfs", kNoDev, nullptr, true},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", true},
    {"shm", "/dev/shm", "tmpfs", kNoDev, "mode=1777", true},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", true},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", true},
    {"cgroup2", "/sys/fs/cgroup", "cgroup2", kNoDev, "nsdelegate", true},
    {"securityfs", "/sys/kernel/security", "securityfs", kNoDev, nullptr, false},
    {"tracefs", "/sys/kernel/tracing", "tracefs", kNoDev, nullptr, false},
    {"bpf", "/sys/fs/bpf", "bpf", kNoDev, "mode=0700", false},
};

Status make_dirs(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return fail(ErrorCode::io, "mkdir " + path.string() + ": " + ec.message());
  return {};
}

Status mount_one(const MountStep& m) {
  // The initramfs is writable, so mount points under / can be created; sysfs already has its own.
  ::mkdir(m.target, 0755);
  if (::mount(m.source, m.target, m.fstype, m.flags, m.data) != 0 && errno != EBUSY) {
    return fail_errno(std::string("mount ") + m.fstype + " on " + m.target);
  }
  return {};
}

Status write_text(const std::filesystem::path& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path.string());
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    errno = err;
    return fail_errno("write \"" + text + "\" to " + path.string());
  }
  return {};
}

}  // namespace

void console_log(const std::string& line) {
  // /dev/console is the serial port the host captures into the sandbox's console log.
  // Opened lazily and retried: before devtmpfs is mounted there may be no /dev/console.
  static int fd = -1;
  if (fd < 0) fd = ::open("/dev/console", O_WRONLY | O_CLOEXEC | O_NOCTTY);
  std::string text = "kata-sentry-agent: " + line + "\n";
  if (fd >= 0) (void)!::write(fd, text.data(), text.size());
}

std::string kernel_cmdline_value(const std::string& key, const std::string& fallback) {
  std::ifstream in("/proc/cmdline");
  std::string word;
  while (in >> word) {
    if (word.size() > key.size() && word.compare(0, key.size(), key) == 0 && word[key.size()] == '=') {
      return word.substr(key.size() + 1);
    }
  }
  return fallback;
}

Status init_guest(const GuestInitOptions& options) {
  for (const auto& m : kMounts) {
    if (auto st = mount_one(m); !st) {
      if (m.required) return st;
      console_log("warning: " + st.error().describe());
    }
  }
  ::symlink("/proc/self/fd", "/dev/fd");
  ::symlink("/proc/self/fd/0", "/dev/stdin");
  ::symlink("/proc/self/fd/1", "/dev/stdout");
  ::symlink("/proc/self/fd/2", "/dev/stderr");
  ::symlink("pts/ptmx", "/dev/ptmx");

  // Containers get their own cgroups with limits, so the controllers must be delegated.
  if (auto st = write_text("/sys/fs/cgroup/cgroup.subtree_control", "+cpu +memory +pids"); !st) {
    return st;
  }
  if (auto st = make_dirs(options.cgroup_parent); !st) return st;

  utsname u{};
  ::uname(&u);
  auto loader = ModuleLoader::open(std::filesystem::path("/lib/modules") / u.release);
  if (!loader) return std::unexpected(loader.error());
  std::vector<std::string> modules = options.modules;
  // Read now that /proc is mounted.
  if (kernel_cmdline_value("ks.net", "0") == "1")
    modules.insert(modules.end(), options.network_modules.begin(), options.network_modules.end());
  for (const auto& name : modules) {
    if (auto st = loader->load(name); !st) return st;
  }

  if (auto st = make_dirs(options.share_mount); !st) return st;
  if (::mount(options.share_tag.c_str(), options.share_mount.c_str(), "virtiofs", MS_NOSUID | MS_NODEV,
              nullptr) != 0) {
    return fail_errno("mount virtiofs " + options.share_tag + " on " + options.share_mount.string());
  }
  return {};
}

Status switch_root_if_initramfs(char** argv) {
  namespace fs = std::filesystem;
  constexpr const char* kMarker = "KS_ROOT_SWITCHED";
  if (::getenv(kMarker)) return {};
  const fs::path target = "/newroot";
  ::mkdir(target.c_str(), 0755);
  if (::mount("tmpfs", target.c_str(), "tmpfs", 0, "mode=0755") != 0) return fail_errno("switch_root: mount tmpfs on /newroot");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/", ec)) {
    if (entry.path() == target) continue;
    auto name = entry.path().filename();
    if (name == "dev" || name == "proc" || name == "sys" || name == "run" || name == "tmp") {
      // Mount points only; /dev/console is what the kernel gave PID 1 as stdio.
      ::mkdir((target / name).c_str(), 0755);
      if (name == "dev") ::mknod((target / "dev/console").c_str(), S_IFCHR | 0600, makedev(5, 1));
      continue;
    }
    fs::copy(entry.path(), target / entry.path().filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return fail(ErrorCode::io, "switch_root: copy " + entry.path().string() + ": " + ec.message());
  }
  // The old root's files would stay in memory, hidden under the tmpfs: free them first.
  for (const auto& entry : fs::directory_iterator("/", ec)) {
    if (entry.path() != target) fs::remove_all(entry.path(), ec);
  }
  if (::chdir(target.c_str()) != 0) return fail_errno("switch_root: chdir /newroot");
  if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return fail_errno("switch_root: move /newroot to /");
  if (::chroot(".") != 0) return fail_errno("switch_root: chroot");
  if (::chdir("/") != 0) return fail_errno("switch_root: chdir /");
  ::setenv(kMarker, "1", 1);
  ::execv("/init", argv);
  return fail_errno("switch_root: exec /init");
}

void power_off() {
  ::sync();
  ::reboot(RB_POWER_OFF);
  // reboot() only returns on failure; PID 1 exiting panics the kernel, and QEMU runs with
  // -no-reboot and panic=-1, so the VM still goes away.
  ::_exit(1);
}

}  // namespace kata_sentry::agent
