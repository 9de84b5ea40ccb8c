// One sandbox VM: a virtiofsd exporting the sandbox's shared directory and a QEMU booting the
// kata-sentry guest image, both supervised children of this process (ChildProcess). Sockets and
// logs live in the caller's run directory, which the caller owns and removes. Both processes
// start inside a cgroup v2 directory of their own, kata-sentry/<id>, where the host deny
// programs attach; without cgroup2 they run where this process runs (host_cgroup() is empty).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cgroup2.h"
#include "core/result.h"
#include "runtime/vm/child_process.h"
#include "runtime/vm/guest_image.h"
#include "runtime/vm/qemu_config.h"
#include "runtime/vm/qmp_client.h"

namespace kata_sentry::vm {

struct VmConfig {
  std::string id;
  std::filesystem::path run_dir;       // existing; gets *.sock and *.log
  std::filesystem::path share_source;  // exported to the guest as tag "kshared"
  GuestImage image;
  int cpus = 1;
  int memory_mb = 512;
  std::chrono::milliseconds start_timeout{30000};  // until QEMU's QMP answers
  // Taps for virtio-net NICs (fd owned by the caller, inherited by QEMU), with the guest MAC.
  struct Nic {
    int tap_fd = -1;
    std::string mac;
  };
  std::vector<Nic> nics;
  std::string kernel_params;  // appended to the guest kernel's command line
};

class Vm {
 public:
  // Starts virtiofsd, then QEMU, and waits until QMP answers. Fails naming the step and with the
  // last line of the failing process's log: "start qemu: /usr/bin/qemu-system-x86_64 exited 1:
  // qemu-system-x86_64: -device ...: ...". Whatever was started is stopped on failure.
  static Result<std::unique_ptr<Vm>> start(const VmConfig& config);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // A connected stream to the guest agent's virtio-serial port (owned by the caller).
  Result<int> connect_agent();

  // QMP quit, then SIGKILL after `grace`; stops virtiofsd; closes QMP. Idempotent, never fails.
  void shutdown(std::chrono::milliseconds grace);

  bool qemu_running() { return qemu_.running(); }
  // SIGKILL to QEMU through its pidfd, from any thread (does not reap; shutdown() does).
  void kill_qemu() noexcept;
  // Why the VM is gone: "qemu (pid 123) killed by signal 9 (Killed); last console line: ...".
  std::string death_report();
  QmpClient& qmp() { return qmp_; }
  Accelerator accelerator() const { return accel_.accel; }
  const std::string& accelerator_reason() const { return accel_.reason; }
  pid_t qemu_pid() const { return qemu_.pid(); }
  pid_t virtiofsd_pid() const { return virtiofsd_.pid(); }
  std::filesystem::path console_log() const { return config_.run_dir / "console.log"; }
  // The sandbox's cgroup v2 directory (QEMU, virtiofsd and their children), or "" when none.
  std::string host_cgroup() const { return cgroup_ ? cgroup_->path() : std::string(); }

 private:
  explicit Vm(VmConfig config) : config_(std::move(config)) {}

  VmConfig config_;
  AcceleratorChoice accel_;
  // Destruction order: QMP connection, then QEMU, then virtiofsd (QEMU holds its socket), then
  // the cgroup they ran in.
  std::unique_ptr<CgroupDir> cgroup_;
  ChildProcess virtiofsd_;
  ChildProcess qemu_;
  QmpClient qmp_;
};

// The last non-empty line of a log file (for error messages), or "".
std::string last_log_line(const std::filesystem::path& path);

}  // namespace kata_sentry::vm
