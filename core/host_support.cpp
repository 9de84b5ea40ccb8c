#include "core/host_support.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/unique_fd.h"

namespace kata_sentry {
namespace {

bool cpu_has_virt_flag() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("flags")) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w)
      if (w == "vmx" || w == "svm") return true;
    return false;
  }
  return false;
}

}  // namespace

Capability probe_kvm() {
  UniqueFd kvm{open("/dev/kvm", O_RDWR | O_CLOEXEC)};
  if (!kvm) return {false, std::string("/dev/kvm: ") + std::strerror(errno)};
  int version = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) return {false, "/dev/kvm: API version " + std::to_string(version)};
  UniqueFd vm{ioctl(kvm.get(), KVM_CREATE_VM, 0)};
  if (!vm) return {false, std::string("/dev/kvm: KVM_CREATE_VM: ") + std::strerror(errno)};
  if (!cpu_has_virt_flag()) return {false, "/dev/kvm opens but the CPU has no vmx/svm flag (nested PVM-style KVM; QEMU -accel kvm aborts)"};
  return {true, "/dev/kvm usable, CPU has hardware virtualization"};
}

Capability probe_vhost_vsock() {
  UniqueFd fd{open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC)};
  if (!fd) return {false, std::string("/dev/vhost-vsock: ") + std::strerror(errno)};
  return {true, "/dev/vhost-vsock opens"};
}

std::string find_virtiofsd() {
  for (const char* p : {"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd", "/usr/bin/virtiofsd"})
    if (access(p, X_OK) == 0) return p;
  return {};
}

Capability probe_virtiofsd() {
  auto path = find_virtiofsd();
  if (path.empty()) return {false, "no virtiofsd in /usr/libexec, /usr/lib/qemu or /usr/bin"};
  return {true, path};
}

std::string find_cgroup2_mount() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type;
  std::string rest;
  while (in >> dev >> dir >> type) {
    std::getline(in, rest);
    if (type == "cgroup2") return dir;
  }
  return {};
}

Capability probe_cgroup2() {
  auto mount = find_cgroup2_mount();
  if (mount.empty()) return {false, "no cgroup2 mount in /proc/self/mounts"};
  std::ifstream controllers(mount + "/cgroup.controllers");
  std::string list, word;
  while (controllers >> word) list += (list.empty() ? "" : " ") + word;
  return {true, mount + " (controllers: " + (list.empty() ? "none" : list) + ")"};
}

}  // namespace kata_sentry
