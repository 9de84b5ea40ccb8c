#include "runtime/shim/sandbox_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>

#include "core/oci/oci_spec.h"
#include "core/logging.h"
#include "runtime/shim/cri_annotations.h"

namespace kata_sentry::shim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uint32_t kLostStatus = 128 + SIGKILL;  // what a process whose VM vanished reads as
// A CRI pod's /dev/shm in the guest: the CRI plugin's own default size (it sizes its host shm
// tmpfs the same way and passes no size in the spec).
constexpr uint64_t kPodShmBytes = 64ull << 20;
// QEMU's own bound for -smp on the machine type we use is higher; this keeps a pod's request
// within what a node could sensibly give one VM.
constexpr int kMaxVmCpus = 64;

// The host's RAM in MiB (MemTotal): no VM may be given more.
int host_memory_mb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") return int(kib / 1024);
    in.ignore(256, '\n');
  }
  return 0;
}

// containerd's rootfs mounts (an overlay over the image's snapshot, or a bind) made at
// <bundle>/rootfs, as runc's shim does before handing the bundle to the runtime.
Status mount_rootfs(const std::vector<RootfsMount>& mounts, const fs::path& target) {
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) return fail(ErrorCode::io, "create " + target.string() + ": " + ec.message());
  for (const auto& m : mounts) {
    unsigned long flags = 0;
    std::string data;
    for (const auto& o : m.options) {
      if (o == "ro") flags |= MS_RDONLY;
      else if (o == "rw") continue;
      else if (o == "bind") flags |= MS_BIND;
      else if (o == "rbind") flags |= MS_BIND | MS_REC;
      else if (o == "nosuid") flags |= MS_NOSUID;
      else if (o == "nodev") flags |= MS_NODEV;
      else if (o == "noexec") flags |= MS_NOEXEC;
      else data += (data.empty() ? "" : ",") + o;
    }
    std::string type = (flags & MS_BIND) ? "none" : m.type;
    if (::mount(m.source.c_str(), target.c_str(), type.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0)
      return fail_errno("mount rootfs " + m.type + " " + m.source + " on " + target.string());
  }
  return {};
}

void unmount_rootfs(const fs::path& target) {
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    logger("shim")->warn("unmount {}: {}", target.string(), std::strerror(errno));
}

void write_all(int fd, std::string_view d) {
  while (!d.empty()) {
    ssize_t n = ::write(fd, d.data(), d.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader (ctr) went away: drop the rest
    d.remove_prefix(size_t(n));
  }
}

// An output FIFO: write-only when containerd's client already reads it (a vanished reader then
// gives EPIPE instead of a hang); read-write otherwise, which never blocks the open.
Result<UniqueFd> open_output(const std::string& path) {
  if (path.empty()) return UniqueFd();
  int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENXIO) fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail_errno("open stdio fifo " + path);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return UniqueFd(fd);
}

}  // namespace

SandboxBackend::SandboxBackend(runtime::SandboxOptions options, std::unique_ptr<SentrydLink> sentryd)
    : options_(std::move(options)), sentryd_(std::move(sentryd)) {
  owner_ = std::thread([this] { owner_loop(); });
}

SandboxBackend::~SandboxBackend() {
  shutdown();
  {
    std::lock_guard lock(owner_mu_);
    owner_stop_ = true;
  }
  owner_cv_.notify_all();
  owner_.join();
}

void SandboxBackend::owner_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(owner_mu_);
      owner_cv_.wait(lock, [this] { return owner_stop_ || !owner_jobs_.empty(); });
      if (owner_jobs_.empty()) return;
      job = std::move(owner_jobs_.front());
      owner_jobs_.pop_front();
    }
    job();
  }
}

void SandboxBackend::on_owner(std::function<void()> job) {
  std::promise<void> done;
  {
    std::lock_guard lock(owner_mu_);
    owner_jobs_.push_back([&] {
      job();
      done.set_value();
    });
  }
  owner_cv_.notify_all();
  done.get_future().wait();
}

void SandboxBackend::set_observer(BackendObserver observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

void SandboxBackend::report_exit(const Proc& p, uint32_t status) {
  BackendObserver o;
  {
    std::lock_guard lock(mu_);
    o = observer_;
  }
  if (o.on_exit) o.on_exit(p.cid, p.exec_id, ExitInfo{p.pid, status, Clock::now()});
}

Status SandboxBackend::open_stdio(Proc& p) {
  if (p.stdio.terminal) return fail(ErrorCode::unavailable, "a terminal (ctr -t) is not supported by kata-sentry yet");
  if (!p.stdio.stdin_path.empty()) {
    // Read-write so that the open never blocks and EOF never comes from the FIFO: containerd
    // says when stdin ends with CloseIO.
    int fd = ::open(p.stdio.stdin_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail_errno("open stdin fifo " + p.stdio.stdin_path);
    p.in = UniqueFd(fd);
    int s[2];
    if (::pipe2(s, O_CLOEXEC) != 0) return fail_errno("stdin stop pipe");
    p.stdin_stop_r = UniqueFd(s[0]);
    p.stdin_stop_w = UniqueFd(s[1]);
  }
  auto out = open_output(p.stdio.stdout_path);
  if (!out) return std::unexpected(out.error());
  p.out = std::move(*out);
  auto err = open_output(p.stdio.stderr_path);
  if (!err) return std::unexpected(err.error());
  p.err = std::move(*err);
  return {};
}

Result<std::shared_ptr<runtime::Sandbox>> SandboxBackend::boot(const ContainerSpec& spec, const OciSpec& oci) {
  auto log = logger("shim");
  // Fail-closed: a pod the daemon cannot watch is refused before it costs a boot.
  if (sentryd_) {
    if (auto st = sentryd_->check_reachable(); !st) return std::unexpected(st.error());
  }
  runtime::SandboxOptions o = options_;
  if (o.id.empty()) o.id = spec.id;
  auto cri = read_cri_annotations(spec.bundle);
  if (cri.container_type == "sandbox") {
    // The CRI plugin ran CNI in this namespace before creating the sandbox container.
    for (const auto& ns : oci.linux.namespaces)
      if (ns.type == "network") o.pod_netns = ns.path;
    if (!oci.hostname.empty()) o.hostname = oci.hostname;
    for (const auto& m : oci.mounts)
      if (m.destination == "/dev/shm") o.pod_shm_bytes = kPodShmBytes;
    auto size = pod_vm_size(cri, {o.cpus, o.memory_mb}, kMaxVmCpus, host_memory_mb());
    if (!size) return std::unexpected(size.error());
    o.cpus = size->cpus;
    o.memory_mb = size->memory_mb;
  }
  log->info("booting sandbox {} for {} ({} vCPU, {} MiB){}", o.id, spec.id, o.cpus, o.memory_mb,
            o.pod_netns.empty() ? "" : " with network " + o.pod_netns.string());
  Result<std::unique_ptr<runtime::Sandbox>> created = fail(ErrorCode::internal, "not run");
  on_owner([&] { created = runtime::Sandbox::create(o); });
  if (!created) return std::unexpected(created.error());
  std::shared_ptr<runtime::Sandbox> sb(std::move(*created));
  if (sentryd_) {
    PodIdentity pod{.sandbox_id = sb->id(),
                    .pod_name = cri.sandbox_name,
                    .pod_namespace = cri.sandbox_namespace,
                    .pod_uid = cri.sandbox_uid,
                    .first_container_id = spec.id};
    if (auto st = sentryd_->attach(*sb, pod); !st) {
      (void)sb->destroy();
      return std::unexpected(st.error());
    }
  }
  return sb;
}

Status SandboxBackend::destroy(runtime::Sandbox& sandbox) {
  if (sentryd_) sentryd_->detach();
  return sandbox.destroy();
}

Result<uint32_t> SandboxBackend::create(const ContainerSpec& spec) {
  auto oci = load_oci_spec(fs::path(spec.bundle) / "config.json");
  if (!oci) return std::unexpected(oci.error());

  auto p = std::make_shared<Proc>();
  p->cid = spec.id;
  p->stdio = spec.stdio;
  if (auto st = open_stdio(*p); !st) return std::unexpected(st.error());

  fs::path rootfs = fs::path(spec.bundle) / "rootfs";
  if (!spec.rootfs.empty()) {
    if (auto st = mount_rootfs(spec.rootfs, rootfs); !st) return std::unexpected(st.error());
  } else if (!oci->root.path.empty()) {
    rootfs = fs::path(oci->root.path).is_absolute() ? fs::path(oci->root.path) : fs::path(spec.bundle) / oci->root.path;
  }
  auto undo_rootfs = [&] {
    if (!spec.rootfs.empty()) unmount_rootfs(rootfs);
  };

  std::shared_ptr<runtime::Sandbox> sb;
  bool booted = false;
  {
    std::lock_guard lock(mu_);
    sb = sandbox_;
  }
  if (!sb) {
    // The pod's first container boots the VM. create() calls are serialized by containerd per
    // task, and a pod's containers are created one after another by the CRI plugin.
    auto booted_sb = boot(spec, *oci);
    if (!booted_sb) {
      undo_rootfs();
      return std::unexpected(booted_sb.error());
    }
    sb = std::move(*booted_sb);
    booted = true;
    std::lock_guard lock(mu_);
    sandbox_ = sb;
  } else if (sentryd_) {
    sentryd_->container_added(spec.id);
  }
  // A CRI container shares the ipc/uts namespaces of its pod's sandbox container.
  auto cri = read_cri_annotations(spec.bundle);
  std::string pod_container = cri.container_type == "container" ? cri.sandbox_id : "";
  if (auto st = sb->create_container(spec.id, *oci, rootfs, p->in.get() >= 0, pod_container); !st) {
    Error e = sb->explain(st.error());
    undo_rootfs();
    if (booted) {
      std::lock_guard lock(mu_);
      if (procs_.empty()) sandbox_.reset();
    }
    if (booted && sb.use_count() <= 1) (void)destroy(*sb);
    if (!booted && sentryd_) sentryd_->container_removed(spec.id);
    return std::unexpected(e);
  }
  p->pid = uint32_t(sb->vm().qemu_pid());  // the task's host-side process is the VMM
  std::lock_guard lock(mu_);
  if (!spec.rootfs.empty()) rootfs_mounts_[spec.id] = rootfs;
  procs_[{spec.id, ""}] = p;
  return p->pid;
}

Status SandboxBackend::exec(const ExecSpec& spec) {
  auto p = std::make_shared<Proc>();
  p->cid = spec.container_id;
  p->exec_id = spec.exec_id;
  p->stdio = spec.stdio;
  p->process_json = spec.process_json;
  if (auto st = open_stdio(*p); !st) return st;
  std::lock_guard lock(mu_);
  if (!sandbox_) return fail(ErrorCode::unavailable, "exec " + spec.exec_id + ": the pod's VM is gone");
  p->pid = uint32_t(sandbox_->vm().qemu_pid());
  procs_[{spec.container_id, spec.exec_id}] = p;
  return {};
}

Result<uint32_t> SandboxBackend::start(const std::string& id, const std::string& exec_id) {
  std::shared_ptr<Proc> p;
  std::shared_ptr<runtime::Sandbox> sb;
  {
    std::lock_guard lock(mu_);
    auto it = procs_.find({id, exec_id});
    if (it == procs_.end()) return fail(ErrorCode::not_found, "start: no process " + id + "/" + exec_id);
    p = it->second;
    sb = sandbox_;
  }
  if (!sb) return fail(ErrorCode::unavailable, "start " + id + ": the pod's VM is gone");
  Status st = exec_id.empty()
                  ? sb->agent().start_container(id)
                  : sb->agent().exec_process(id, exec_id, runtime::ExecConfig{p->process_json, {}, {}, "", p->in.get() >= 0});
  if (!st) return std::unexpected(sb->explain(st.error()));
  start_pumps(p);
  return p->pid;
}

void SandboxBackend::start_pumps(const std::shared_ptr<Proc>& p) {
  std::shared_ptr<runtime::Sandbox> sb;
  {
    std::lock_guard lock(mu_);
    sb = sandbox_;
  }
  p->output = std::thread([p, sb] {
    auto st = sb->agent().read_output(
        p->cid, p->exec_id, [&](std::string_view d) { if (p->out) write_all(p->out.get(), d); },
        [&](std::string_view d) { if (p->err) write_all(p->err.get(), d); });
    if (!st) logger("shim")->debug("output of {}/{}: {}", p->cid, p->exec_id, st.error().describe());
    // Closing our ends is what tells containerd's reader the output is complete.
    p->out = UniqueFd();
    p->err = UniqueFd();
    p->output_done = true;
  });
  if (p->in) {
    p->input = std::thread([p, sb] {
      char buf[16384];
      for (;;) {
        pollfd fds[2] = {{p->in.get(), POLLIN, 0}, {p->stdin_stop_r.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (fds[1].revents) break;
        ssize_t n = ::read(p->in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!sb->agent().write_stdin(p->cid, p->exec_id, std::string_view(buf, size_t(n)))) return;
      }
      (void)sb->agent().close_stdin(p->cid, p->exec_id);
    });
  }
  p->waiter = std::thread([this, p, sb] {
    auto r = sb->agent().wait_process(p->cid, p->exec_id);
    uint32_t status = kLostStatus;
    if (r) {
      status = uint32_t(r->shell_code());
    } else {
      logger("shim")->warn("wait {}/{}: {}", p->cid, p->exec_id, sb->explain(r.error()).describe());
    }
    // Let the last output reach the FIFOs before containerd hears of the exit, but do not
    // wait forever for a background child that keeps the pipes open.
    for (int i = 0; i < 200 && !p->output_done; i++) std::this_thread::sleep_for(10ms);
    report_exit(*p, status);
  });
}

void SandboxBackend::stop_stdin(Proc& p) {
  if (p.stdin_closed.exchange(true)) return;
  if (p.stdin_stop_w) {
    char b = 1;
    (void)!::write(p.stdin_stop_w.get(), &b, 1);
  }
}

void SandboxBackend::join(Proc& p) {
  if (p.input.joinable()) p.input.join();
  if (p.output.joinable()) p.output.join();
  if (p.waiter.joinable()) p.waiter.join();
}

Status SandboxBackend::close_stdin(const std::string& id, const std::string& exec_id) {
  std::shared_ptr<Proc> p;
  {
    std::lock_guard lock(mu_);
    auto it = procs_.find({id, exec_id});
    if (it == procs_.end()) return fail(ErrorCode::not_found, "close stdin: no process " + id + "/" + exec_id);
    p = it->second;
  }
  stop_stdin(*p);  // the pump sends CloseStdin to the agent after what it already read
  return {};
}

Status SandboxBackend::kill(const std::string& id, const std::string& exec_id, uint32_t signal, bool) {
  std::shared_ptr<runtime::Sandbox> sb;
  {
    std::lock_guard lock(mu_);
    sb = sandbox_;
  }
  if (!sb) return fail(ErrorCode::not_found, "kill " + id + ": the pod's VM is gone");
  // `all` needs nothing more: the container has its own pid namespace in the guest, so its
  // init's death takes every other process with it.
  if (auto st = sb->agent().signal_process(id, exec_id, int(signal)); !st) return std::unexpected(sb->explain(st.error()));
  return {};
}

Status SandboxBackend::remove(const std::string& id, const std::string& exec_id) {
  std::vector<std::shared_ptr<Proc>> gone;
  std::shared_ptr<runtime::Sandbox> sb;
  std::optional<fs::path> rootfs;
  bool last = false;
  {
    std::lock_guard lock(mu_);
    sb = sandbox_;
    for (auto it = procs_.begin(); it != procs_.end();) {
      bool match = it->first.first == id && (exec_id.empty() || it->first.second == exec_id);
      if (match) {
        gone.push_back(it->second);
        it = procs_.erase(it);
      } else {
        ++it;
      }
    }
    if (exec_id.empty()) {
      if (auto r = rootfs_mounts_.find(id); r != rootfs_mounts_.end()) {
        rootfs = r->second;
        rootfs_mounts_.erase(r);
      }
      last = procs_.empty();
      if (last) sandbox_.reset();
    }
  }
  Status result;
  if (sb && exec_id.empty()) {
    if (auto st = sb->agent().remove_container(id); !st) {
      Error e = sb->explain(st.error());
      logger("shim")->warn("remove container {}: {}", id, e.describe());
    }
  }
  for (auto& p : gone) stop_stdin(*p);
  if (sentryd_ && exec_id.empty() && !last) sentryd_->container_removed(id);
  // The last container's removal takes the VM down, which also ends any pump still running.
  if (last && sb) {
    if (auto st = destroy(*sb); !st) result = st;
  }
  for (auto& p : gone) join(*p);
  if (rootfs) unmount_rootfs(*rootfs);
  return result;
}

Result<std::vector<ProcessInfo>> SandboxBackend::pids(const std::string& id) {
  std::lock_guard lock(mu_);
  std::vector<ProcessInfo> out;
  for (const auto& [key, p] : procs_)
    if (key.first == id && !p->output_done) out.push_back({p->pid});
  return out;
}

Status SandboxBackend::resize_pty(const std::string& id, const std::string&, uint32_t, uint32_t) {
  return fail(ErrorCode::unavailable, "resize pty of " + id + ": terminals are not supported by kata-sentry yet");
}

Status SandboxBackend::pause(const std::string& id) {
  return fail(ErrorCode::unavailable, "pause " + id + ": not supported by kata-sentry yet");
}

Status SandboxBackend::resume(const std::string& id) {
  return fail(ErrorCode::unavailable, "resume " + id + ": not supported by kata-sentry yet");
}

Status SandboxBackend::update(const std::string& id, const std::string&) {
  return fail(ErrorCode::unavailable, "update " + id + ": changing resources of a running container is not supported yet");
}

Result<TaskStats> SandboxBackend::stats(const std::string& id) {
  std::shared_ptr<runtime::Sandbox> sb;
  {
    std::lock_guard lock(mu_);
    sb = sandbox_;
  }
  if (!sb) return fail(ErrorCode::not_found, "stats " + id + ": the pod's VM is gone");
  auto s = sb->agent().stats_container(id);
  if (!s) return std::unexpected(sb->explain(s.error()));
  return TaskStats{s->cpu_usage_usec.value_or(0) * 1000, s->memory_current_bytes.value_or(0), s->pids_current.value_or(0)};
}

void SandboxBackend::shutdown() {
  std::shared_ptr<runtime::Sandbox> sb;
  std::map<Key, std::shared_ptr<Proc>> procs;
  std::map<std::string, fs::path> mounts;
  {
    std::lock_guard lock(mu_);
    sb = std::move(sandbox_);
    procs.swap(procs_);
    mounts.swap(rootfs_mounts_);
  }
  for (auto& [k, p] : procs) stop_stdin(*p);
  // Destroying the VM breaks every pending agent call, so waiters report and pumps end.
  if (sb) {
    if (auto st = destroy(*sb); !st) logger("shim")->warn("destroy sandbox: {}", st.error().describe());
  }
  for (auto& [k, p] : procs) join(*p);
  for (auto& [id, path] : mounts) unmount_rootfs(path);
}

}  // namespace kata_sentry::shim
