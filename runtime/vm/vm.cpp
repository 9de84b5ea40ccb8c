#include "runtime/vm/vm.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/host_support.h"
#include "core/logging.h"

namespace kata_sentry::vm {
namespace {

using namespace std::chrono_literals;

constexpr const char* kShareTag = "kshared";

// Waits until `path` exists while `child` keeps running.
// `what` names the step for errors: "start qemu: /usr/bin/qemu-system-x86_64".
Status wait_for_socket(ChildProcess& child, const std::string& what, const std::filesystem::path& path,
                       std::chrono::milliseconds timeout, const std::filesystem::path& log) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(path)) {
    if (!child.running()) {
      return fail(ErrorCode::unavailable, what + " " + child.describe_exit() + ": " + last_log_line(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(ErrorCode::timeout, what + ": no socket " + path.string() + " after " +
                                          std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

}  // namespace

std::string last_log_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) last = line;
  }
  return last;
}

Result<std::unique_ptr<Vm>> Vm::start(const VmConfig& config) {
  auto log = logger("vm");
  std::unique_ptr<Vm> vm(new Vm(config));
  vm->accel_ = choose_accelerator();
  if (vm->accel_.accel == Accelerator::tcg) {
    log->info("sandbox {}: accelerator tcg -cpu max ({})", config.id, vm->accel_.reason);
  } else {
    log->info("sandbox {}: accelerator kvm ({})", config.id, vm->accel_.reason);
  }

  std::string virtiofsd = find_virtiofsd();
  if (virtiofsd.empty()) return fail(ErrorCode::unavailable, "start virtiofsd: not installed (apt-get install qemu-system-common)");
  // A cgroup of its own, so that deny programs can be attached to exactly this sandbox's host
  // processes. Optional: without cgroup2 the sandbox runs, and host deny reports itself off.
  if (auto cg = CgroupDir::create(sandbox_cgroup_name(config.id)); cg) {
    vm->cgroup_ = std::move(*cg);
  } else {
    log->warn("sandbox {}: no cgroup of its own ({}); host deny programs cannot be attached", config.id,
              cg.error().describe());
  }
  std::filesystem::path cgroup_dir = vm->host_cgroup();
  auto vfs_socket = config.run_dir / "virtiofsd.sock";
  auto vfs_log = config.run_dir / "virtiofsd.log";
  // cache=auto, as Kata runs it: the guest keeps looked-up names and attributes for a second,
  // and file data only while the file is open (each open reads afresh). With cache=none every
  // path walk re-asked the host for each component: an open in the container's /tmp took two
  // extra round trips, which the workload and the detection latency both paid. Writes still go
  // straight to the host (no writeback cache), so nothing a container writes waits in the guest.
  auto vfsd = ChildProcess::spawn({virtiofsd, "--socket-path=" + vfs_socket.string(), "-o",
                                   "source=" + config.share_source.string(), "-o", "cache=auto"},
                                  vfs_log, cgroup_dir);
  if (!vfsd) return std::unexpected(vfsd.error());
  vm->virtiofsd_ = std::move(*vfsd);
  if (auto st = wait_for_socket(vm->virtiofsd_, "start virtiofsd: " + virtiofsd, vfs_socket, 5000ms, vfs_log); !st) return std::unexpected(st.error());

  QemuConfig q;
  q.name = "kata-sentry-" + config.id;
  q.accel = vm->accel_.accel;
  q.cpus = config.cpus;
  q.memory_mb = config.memory_mb;
  q.kernel = config.image.kernel;
  q.initrd = config.image.initrd;
  // Skips probing that costs seconds under TCG and that a VM without legacy devices does not
  // need (the i8042 controller, the TSC watchdog, further PCI buses, crypto self-tests). Measured
  // here: guest uptime when the container runs 6.8-8.7 s with these vs 9.1-11.7 s without (loaded
  // host). The SP800-108 KDF's known-answer test ignores cryptomgr.notests and was the second
  // slowest initcall under TCG (initcall_debug: 132 ms of guest time, loaded host); nothing here
  // uses that KDF. KATA_SENTRY_KERNEL_PARAMS appends more (debugging).
  q.kernel_cmdline = "console=ttyS0 panic=-1 quiet ks.port=" + q.agent_port_name +
                     " tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1"
                     " i8042.nopnp=1 i8042.noaux=1 noreplace-smp cryptomgr.notests pci=lastbus=0"
                     " initcall_blacklist=crypto_kdf108_init";
  if (!config.kernel_params.empty()) q.kernel_cmdline += " " + config.kernel_params;
  if (const char* extra = std::getenv("KATA_SENTRY_KERNEL_PARAMS")) q.kernel_cmdline += std::string(" ") + extra;
  q.console_log = config.run_dir / "console.log";
  q.qmp_socket = config.run_dir / "qmp.sock";
  q.agent_socket = config.run_dir / "agent.sock";
  q.share = VirtioFsShare{kShareTag, vfs_socket};
  std::vector<int> pass_fds;
  for (const auto& nic : config.nics) {
    q.nics.push_back({int(3 + pass_fds.size()), nic.mac});
    pass_fds.push_back(nic.tap_fd);
  }
  auto argv = qemu_argv(q);
  {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    log->debug("sandbox {}: {}", config.id, line);
  }
  auto qemu_log = config.run_dir / "qemu.log";
  auto qemu = ChildProcess::spawn(argv, qemu_log, cgroup_dir, pass_fds);
  if (!qemu) return std::unexpected(qemu.error());
  vm->qemu_ = std::move(*qemu);

  // QEMU creates its server sockets before the guest runs; QMP answering means the machine is up.
  auto deadline = std::chrono::steady_clock::now() + config.start_timeout;
  if (auto st = wait_for_socket(vm->qemu_, "start qemu: " + argv[0], q.qmp_socket, config.start_timeout, qemu_log); !st) {
    return std::unexpected(st.error());
  }
  for (;;) {
    auto qmp = QmpClient::connect(q.qmp_socket, 5000ms);
    if (qmp) {
      vm->qmp_ = std::move(*qmp);
      break;
    }
    if (!vm->qemu_.running()) {
      return fail(ErrorCode::unavailable, "start qemu: " + argv[0] + " " + vm->qemu_.describe_exit() + ": " + last_log_line(qemu_log));
    }
    if (std::chrono::steady_clock::now() > deadline) return std::unexpected(qmp.error());
    std::this_thread::sleep_for(10ms);
  }
  log->info("sandbox {}: qemu pid {}, virtiofsd pid {}, cgroup {}", config.id, vm->qemu_.pid(), vm->virtiofsd_.pid(),
            cgroup_dir.empty() ? "(none)" : cgroup_dir.string());
  return vm;
}

Vm::~Vm() { shutdown(2000ms); }

Result<int> Vm::connect_agent() {
  auto path = (config_.run_dir / "agent.sock").string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("agent channel " + path + ": socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    auto err = fail_errno("agent channel " + path + ": connect");
    ::close(fd);
    return err;
  }
  return fd;
}

void Vm::shutdown(std::chrono::milliseconds grace) {
  if (qemu_.running()) {
    // quit stops the emulator at once; the guest has nothing to flush (its disk is the host's).
    (void)qmp_.quit();
    if (!qemu_.wait_exit(grace)) qemu_.terminate(0ms);
  }
  qmp_ = QmpClient();
  qemu_.terminate(0ms);
  // virtiofsd exits when its vhost-user peer goes away; give it a moment, then make sure.
  if (virtiofsd_.running() && !virtiofsd_.wait_exit(500ms)) virtiofsd_.terminate(0ms);
}

void Vm::kill_qemu() noexcept {
  if (qemu_.pidfd() >= 0) ::syscall(SYS_pidfd_send_signal, qemu_.pidfd(), SIGKILL, nullptr, 0);
}

std::string Vm::death_report() {
  std::string report = "qemu (pid " + std::to_string(qemu_.pid()) + ") " + qemu_.describe_exit();
  if (auto line = last_log_line(config_.run_dir / "qemu.log"); !line.empty()) report += "; qemu: " + line;
  if (auto line = last_log_line(config_.run_dir / "console.log"); !line.empty()) report += "; last console line: " + line;
  return report;
}

}  // namespace kata_sentry::vm
