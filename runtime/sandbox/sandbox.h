// A sandbox: one VM with its agent, and the host-side state around it, all under
// /run/kata-sentry/sandboxes/<id>/ (sockets, logs, the virtio-fs shared dir with each container's
// bundle, the overlay upper dirs). Created in order dir → shared mount → virtiofsd + QEMU →
// agent ready → CreateSandbox; torn down in reverse, also when creation fails half-way and from
// the destructor, so that no process, mount or directory outlives it.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/oci/oci_spec.h"
#include "core/result.h"
#include "runtime/agent_client/agent_client.h"
#include "runtime/network/pod_network.h"
#include "runtime/vm/vm.h"

namespace kata_sentry::runtime {

struct SandboxOptions {
  std::string id;  // empty: 16 random hex digits
  std::filesystem::path root = "/run/kata-sentry/sandboxes";
  std::filesystem::path guest_dir;  // empty: vm::GuestImage::default_dir()
  int cpus = 1;
  int memory_mb = 512;
  std::chrono::milliseconds boot_timeout{60000};  // QEMU start to agent ready
  // The guest's hostname (a CRI pod's hostname).
  std::string hostname = "kata-sentry";
  // A CRI pod's network namespace (the spec's network namespace path, where CNI made the
  // interfaces): each interface is wired to a virtio-net NIC (runtime/network/pod_network.h)
  // and the agent recreates the pod's addresses and routes on it. Empty: the VM has no NIC.
  std::filesystem::path pod_netns;
  // A CRI pod's /dev/shm: a guest tmpfs of this size that every container's /dev/shm bind
  // mount is pointed at (runtime/sandbox/guest_spec.h). 0: none.
  uint64_t pod_shm_bytes = 0;
  // When set and it becomes non-zero (a signal number) while the guest boots, create() stops
  // waiting, tears down and fails with ErrorCode::internal "interrupted by signal N".
  const std::atomic<int>* interrupt = nullptr;
};

// Durations since Sandbox::create() began.
struct SandboxTimings {
  std::chrono::milliseconds vm_started{0};   // QEMU up (QMP answers)
  std::chrono::milliseconds agent_ready{0};  // the agent answered its health check
};

class Sandbox {
 public:
  // Fails naming the step; nothing is left behind on failure.
  static Result<std::unique_ptr<Sandbox>> create(const SandboxOptions& options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Makes <shared>/<container_id>/rootfs an overlay of `rootfs` (writes land in the sandbox dir,
  // never in `rootfs`), binds the spec's host bind-mount sources into <shared>/<container_id>/
  // volumes/ (guest_spec.h), writes the guest's config.json there (root.path forced to
  // "rootfs") and asks the agent to create the container. `rootfs` empty: the guest image's
  // busybox rootfs. `pod_container_id`: a CRI container, which joins the ipc/uts namespaces of
  // that (the pod's sandbox) container; empty for the sandbox container or a plain container.
  Status create_container(const std::string& container_id, const OciSpec& spec,
                          const std::filesystem::path& rootfs, bool open_stdin,
                          const std::string& pod_container_id = "");

  AgentClient& agent() { return *agent_; }
  vm::Vm& vm() { return *vm_; }
  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
  const vm::GuestImage& image() const { return image_; }
  const SandboxTimings& timings() const { return timings_; }

  // When an agent call failed because the VM is gone, the error says so, with the reason
  // (qemu's exit and the last console line); other errors are returned unchanged.
  Error explain(const Error& error);

  // DestroySandbox (short deadline), QEMU and virtiofsd stopped, rootfs and shared-dir mounts
  // detached, the sandbox dir removed. Idempotent; reports the first problem but always
  // completes every step.
  Status destroy();

 private:
  Sandbox() = default;
  Status mount_shared_dir();
  Status place_rootfs(const std::string& container_id, const std::filesystem::path& rootfs);
  Status place_bind(const std::string& container_id, const std::filesystem::path& source,
                    const std::filesystem::path& target, bool directory, bool readonly);

  std::string id_;
  std::filesystem::path dir_;
  std::filesystem::path shared_;
  vm::GuestImage image_;
  SandboxTimings timings_;
  bool shared_mounted_ = false;
  std::vector<std::filesystem::path> rootfs_mounts_;  // also the volume binds
  uint64_t pod_shm_bytes_ = 0;
  std::unique_ptr<network::PodNetwork> pod_network_;  // detached after QEMU is gone
  std::unique_ptr<vm::Vm> vm_;
  std::unique_ptr<AgentClient> agent_;
  bool agent_ready_ = false;  // DestroySandbox is only worth its deadline once the agent answered
  bool destroyed_ = false;
};

}  // namespace kata_sentry::runtime
