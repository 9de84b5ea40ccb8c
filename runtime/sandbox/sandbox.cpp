#include "runtime/sandbox/sandbox.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/logging.h"
#include "runtime/sandbox/guest_spec.h"

namespace kata_sentry::runtime {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string random_id() {
  unsigned char bytes[8] = {};
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::read(fd, bytes, sizeof bytes);
    ::close(fd);
  }
  static const char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

Status make_dir(const fs::path& p, fs::perms perms = fs::perms::owner_all) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return fail(ErrorCode::io, "create " + p.string() + ": " + ec.message());
  fs::permissions(p, perms, ec);
  return {};
}

Status write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail(ErrorCode::io, "write " + p.string());
  return {};
}

}  // namespace

Result<std::unique_ptr<Sandbox>> Sandbox::create(const SandboxOptions& options) {
  auto log = logger("runtime");
  auto t0 = std::chrono::steady_clock::now();
  auto since = [t0] { return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0); };

  std::unique_ptr<Sandbox> sb(new Sandbox());
  sb->id_ = options.id.empty() ? random_id() : options.id;
  if (!valid_id(sb->id_)) return fail(ErrorCode::invalid_argument, "sandbox id \"" + sb->id_ + "\": use [A-Za-z0-9_.-], at most 64");
  auto image = vm::GuestImage::locate(options.guest_dir.empty() ? vm::GuestImage::default_dir() : options.guest_dir);
  if (!image) return std::unexpected(image.error());
  sb->image_ = *image;

  fs::path dir = options.root / sb->id_;
  // Checked before dir_ is set: the destructor removes dir_, and this one is not ours.
  if (fs::exists(dir)) return fail(ErrorCode::invalid_argument, "sandbox " + sb->id_ + ": " + dir.string() + " already exists");
  sb->dir_ = dir;
  sb->shared_ = sb->dir_ / "shared";
  // From here on, a failure returns through ~Sandbox, which undoes whatever was done.
  if (auto st = make_dir(sb->dir_); !st) return std::unexpected(st.error());
  if (auto st = make_dir(sb->shared_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec); !st) {
    return std::unexpected(st.error());
  }
  if (auto st = sb->mount_shared_dir(); !st) return std::unexpected(st.error());

  vm::VmConfig vc;
  vc.id = sb->id_;
  vc.run_dir = sb->dir_;
  vc.share_source = sb->shared_;
  vc.image = sb->image_;
  vc.cpus = options.cpus;
  vc.memory_mb = options.memory_mb;
  vc.start_timeout = options.boot_timeout;
  if (!options.pod_netns.empty()) {
    auto pn = network::PodNetwork::attach(options.pod_netns);
    if (!pn) return std::unexpected(pn.error());
    sb->pod_network_ = std::move(*pn);
    for (auto& nic : sb->pod_network_->nics()) vc.nics.push_back({nic.tap.get(), format_mac(nic.mac)});
    vc.kernel_params = "ks.net=1";  // the guest init loads virtio_net
  }
  auto vm = vm::Vm::start(vc);
  if (!vm) return std::unexpected(vm.error());
  sb->vm_ = std::move(*vm);
  sb->timings_.vm_started = since();

  auto fd = sb->vm_->connect_agent();
  if (!fd) return std::unexpected(fd.error());
  auto client = AgentClient::connect(*fd);
  if (!client) return std::unexpected(client.error());
  sb->agent_ = std::move(*client);
  // Waited for in slices so that Ctrl-C during a (TCG: several seconds) boot is honoured.
  for (;;) {
    if (options.interrupt && options.interrupt->load() != 0) {
      return fail(ErrorCode::internal, "sandbox " + sb->id_ + ": interrupted by signal " +
                                           std::to_string(options.interrupt->load()) + " while booting");
    }
    auto st = sb->agent_->wait_ready(500ms);
    if (st) break;
    if (st.error().code != ErrorCode::timeout || since() > options.boot_timeout) {
      return std::unexpected(sb->explain(st.error()));
    }
  }
  sb->agent_ready_ = true;
  sb->timings_.agent_ready = since();
  log->info("sandbox {}: agent ready after {} ms", sb->id_, sb->timings_.agent_ready.count());

  SandboxConfig config;
  config.hostname = options.hostname;
  if (sb->pod_network_) config.network = sb->pod_network_->guest_config();
  config.pod_shm_bytes = options.pod_shm_bytes;
  sb->pod_shm_bytes_ = options.pod_shm_bytes;
  if (auto st = sb->agent_->create_sandbox(config); !st) return std::unexpected(sb->explain(st.error()));
  return sb;
}

Sandbox::~Sandbox() { (void)destroy(); }

Status Sandbox::mount_shared_dir() {
  // A bind mount of the shared dir onto itself, made a shared peer group: virtiofsd copies it
  // into its own mount namespace as a slave, so rootfs mounts added later propagate to it.
  if (::mount(shared_.c_str(), shared_.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return fail_errno("sandbox " + id_ + ": bind-mount " + shared_.string());
  }
  shared_mounted_ = true;
  if (::mount(nullptr, shared_.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
    return fail_errno("sandbox " + id_ + ": make " + shared_.string() + " a shared mount");
  }
  return {};
}

Status Sandbox::place_rootfs(const std::string& container_id, const fs::path& rootfs) {
  fs::path target = shared_ / container_id / "rootfs";
  fs::path layer = dir_ / "overlay" / container_id;
  for (const auto& d : {target, layer / "upper", layer / "work"}) {
    if (auto st = make_dir(d, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec); !st) return st;
  }
  std::error_code ec;
  fs::path lower = fs::canonical(rootfs, ec);
  if (ec) return fail(ErrorCode::not_found, "container " + container_id + ": rootfs " + rootfs.string() + ": " + ec.message());
  std::string data = "lowerdir=" + lower.string() + ",upperdir=" + (layer / "upper").string() + ",workdir=" + (layer / "work").string();
  if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0) {
    return fail_errno("container " + container_id + ": overlay mount of " + lower.string() + " on " + target.string());
  }
  rootfs_mounts_.push_back(target);
  return {};
}

Status Sandbox::place_bind(const std::string& container_id, const fs::path& source, const fs::path& target,
                           bool directory, bool readonly) {
  const std::string what = "container " + container_id + ": volume " + source.string();
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) return fail(ErrorCode::io, what + ": create " + target.parent_path().string() + ": " + ec.message());
  if (directory) {
    fs::create_directory(target, ec);
  } else {
    std::ofstream(target).close();  // a file bind mount needs a file to cover
  }
  if (ec || !fs::exists(target)) return fail(ErrorCode::io, what + ": create " + target.string());
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return fail_errno(what + ": bind onto " + target.string());
  rootfs_mounts_.push_back(target);
  // Read-only on the host too, so that virtiofsd itself cannot write there for the guest.
  if (readonly && ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    return fail_errno(what + ": make " + target.string() + " read-only");
  return {};
}

Status Sandbox::create_container(const std::string& container_id, const OciSpec& spec,
                                 const fs::path& rootfs, bool open_stdin, const std::string& pod_container_id) {
  if (!valid_id(container_id)) {
    return fail(ErrorCode::invalid_argument, "container id \"" + container_id + "\": use [A-Za-z0-9_.-], at most 64");
  }
  if (fs::exists(shared_ / container_id)) return fail(ErrorCode::invalid_argument, "container " + container_id + ": already exists");
  auto plan = plan_guest_spec(spec, {.pod_shm = pod_shm_bytes_ > 0, .in_pod = !pod_container_id.empty()});
  if (!plan) return fail(plan.error().code, "container " + container_id + ": " + plan.error().message);
  if (auto st = place_rootfs(container_id, rootfs.empty() ? image_.default_rootfs : rootfs); !st) return st;
  for (const auto& b : plan->binds) {
    if (auto st = place_bind(container_id, b.source, shared_ / container_id / b.share_path, b.directory, b.readonly); !st)
      return st;
  }
  OciSpec placed = std::move(plan->spec);
  placed.root.path = "rootfs";
  std::string json = oci_spec_to_json(placed);
  if (auto st = write_file(shared_ / container_id / "config.json", json); !st) return st;
  ContainerConfig config;
  config.open_stdin = open_stdin;
  if (!plan->pod_namespaces.empty()) {
    config.pod_container_id = pod_container_id;
    config.pod_namespaces = plan->pod_namespaces;
  }
  if (auto st = agent_->create_container(container_id, json, config); !st) return std::unexpected(explain(st.error()));
  return {};
}

Error Sandbox::explain(const Error& error) {
  if (!vm_) return error;
  // A dying QEMU closes the channel a moment before it can be reaped.
  if (vm_->qemu_running()) std::this_thread::sleep_for(200ms);
  if (vm_->qemu_running()) return error;
  return Error{ErrorCode::unavailable, 0, "sandbox " + id_ + ": the VM is gone: " + vm_->death_report() + " (" + error.describe() + ")"};
}

Status Sandbox::destroy() {
  if (destroyed_) return {};
  destroyed_ = true;
  auto log = logger("runtime");
  Status result;
  auto note = [&result, &log](Status st) {
    if (!st) {
      log->warn("{}", st.error().describe());
      if (result) result = std::move(st);
    }
  };
  if (agent_ && agent_ready_ && vm_ && vm_->qemu_running()) (void)agent_->destroy_sandbox();  // best effort: QEMU goes away next
  agent_.reset();
  if (vm_) vm_->shutdown(2000ms);
  vm_.reset();
  // After QEMU: it held the taps.
  if (pod_network_) note(pod_network_->detach());
  pod_network_.reset();
  for (auto it = rootfs_mounts_.rbegin(); it != rootfs_mounts_.rend(); ++it) {
    if (::umount2(it->c_str(), MNT_DETACH) != 0) note(fail_errno("sandbox " + id_ + ": unmount " + it->string()));
  }
  rootfs_mounts_.clear();
  if (shared_mounted_ && ::umount2(shared_.c_str(), MNT_DETACH) != 0) {
    note(fail_errno("sandbox " + id_ + ": unmount " + shared_.string()));
  }
  shared_mounted_ = false;
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) note(fail(ErrorCode::io, "sandbox " + id_ + ": remove " + dir_.string() + ": " + ec.message()));
  }
  return result;
}

}  // namespace kata_sentry::runtime
