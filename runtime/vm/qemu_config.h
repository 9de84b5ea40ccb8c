// The QEMU command line as a typed config: every device and option the launcher uses is a
// field here, and qemu_argv() is the only place that knows QEMU's spelling.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kata_sentry::vm {

enum class Accelerator { kvm, tcg };
const char* accelerator_name(Accelerator accel);

struct AcceleratorChoice {
  Accelerator accel = Accelerator::tcg;
  std::string reason;  // why: "KVM usable" or the probe's detail ("/dev/kvm: no vmx/svm CPU flag")
};
// KVM when core/host_support.h's probe says it really works, else TCG.
AcceleratorChoice choose_accelerator();

struct VirtioFsShare {
  std::string tag;                      // the guest mounts it with `mount -t virtiofs <tag>`
  std::filesystem::path vhost_socket;   // virtiofsd's --socket-path
};

// A virtio-net NIC backed by a tap QEMU inherits as an fd (runtime/network/pod_network.h).
struct QemuNic {
  int fd = -1;      // the fd number in QEMU's process
  std::string mac;  // "02:42:..."; the guest finds its interface by it
};

struct QemuConfig {
  std::filesystem::path binary = "/usr/bin/qemu-system-x86_64";
  std::string name;  // shows in ps and QMP
  Accelerator accel = Accelerator::tcg;
  int cpus = 1;
  int memory_mb = 512;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::string kernel_cmdline;
  std::filesystem::path console_log;     // the guest's ttyS0, appended
  std::filesystem::path qmp_socket;      // QMP server socket (control)
  std::filesystem::path agent_socket;    // unix-socket chardev behind the virtio-serial port
  std::string agent_port_name = "agent.0";
  std::optional<VirtioFsShare> share;    // needs shared guest memory: memfd backend of memory_mb
  std::vector<QemuNic> nics;
  // -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
  bool seccomp_sandbox = true;
};

// The full argv (argv[0] = binary). Never fails; values are not validated here.
std::vector<std::string> qemu_argv(const QemuConfig& config);

}  // namespace kata_sentry::vm
