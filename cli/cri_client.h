// A small CRI (runtime.v1) client: what kubelet does to a container runtime, over containerd's
// socket, for `kata-sentry cri`, the CRI tests and the CRI benchmarks. The generated protobuf
// types stay in cri_client.cpp; callers see the plain structs below.
//
// Every call has a deadline (CriClient::Options::timeout) and fails with an Error that names the
// call and the object and carries containerd's own message, e.g.
// "CRI RunPodSandbox web: failed to get sandbox runtime: no runtime for \"nosuch\" is configured".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace kata_sentry::cri {

using Labels = std::map<std::string, std::string>;

struct PortMapping {
  std::string protocol = "tcp";  // tcp | udp | sctp
  int container_port = 0;
  int host_port = 0;             // 0: no host port
  std::string host_ip;
};

// LinuxContainerResources; 0 means "not set", as in the CRI.
struct Resources {
  int64_t cpu_period = 0;  // µs
  int64_t cpu_quota = 0;   // µs per period
  int64_t memory_limit_bytes = 0;
  bool empty() const { return cpu_period == 0 && cpu_quota == 0 && memory_limit_bytes == 0; }
};

// PodSandboxConfig plus the runtime handler (RuntimeClass).
struct PodConfig {
  std::string name;
  std::string ns = "default";
  std::string uid;                  // empty: derived from ns/name
  uint32_t attempt = 0;
  std::string hostname;             // empty: the pod's name
  std::string runtime_handler;      // empty: containerd's default runtime (runc)
  std::string log_directory;
  std::string cgroup_parent;        // cgroupfs style, e.g. "/kubepods/pod<uid>"
  std::vector<std::string> dns_servers, dns_searches, dns_options;
  std::vector<PortMapping> ports;
  Labels labels, annotations;
  bool privileged = false;          // the pod may run privileged containers
  Resources resources;              // linux.resources: the sum of the containers'
};

struct Mount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
};

struct ContainerConfig {
  std::string name;
  uint32_t attempt = 0;
  std::string image;                // a reference containerd's CRI plugin knows
  std::vector<std::string> command; // entrypoint; empty: the image's
  std::vector<std::string> args;    // empty: the image's
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<Mount> mounts;
  Labels labels, annotations;
  std::string log_path;             // relative to the pod's log_directory
  bool privileged = false;
  bool readonly_rootfs = false;
  Resources resources;
};

struct PodStatus {
  std::string id;
  std::string name, ns, uid;
  uint32_t attempt = 0;
  bool ready = false;               // SANDBOX_READY
  int64_t created_at_ns = 0;
  std::string ip;                   // PodSandboxStatus.network.ip (List does not carry it)
  std::vector<std::string> additional_ips;
  std::string runtime_handler;
  Labels labels, annotations;
};

enum class ContainerState { created, running, exited, unknown };
const char* container_state_name(ContainerState s);  // "CONTAINER_RUNNING", ...

struct ContainerStatus {
  std::string id;
  std::string pod_id;               // List only
  std::string name;
  uint32_t attempt = 0;
  std::string image;
  ContainerState state = ContainerState::unknown;
  int64_t created_at_ns = 0, started_at_ns = 0, finished_at_ns = 0;
  int exit_code = 0;
  std::string reason, message;      // Status only
  std::vector<Mount> mounts;        // Status only
  Labels labels, annotations;
};

struct ExecResult {
  std::string out, err;
  int exit_code = 0;
};

struct Version {
  std::string version, runtime_name, runtime_version, runtime_api_version;
};

struct RuntimeCondition {
  std::string type;                 // RuntimeReady, NetworkReady
  bool status = false;
  std::string reason, message;
};

class CriClient {
 public:
  struct Options {
    // Deadline of each call. RunPodSandbox with a VM runtime boots a VM: kubelet's default
    // --runtime-request-timeout is 2 minutes, and so is ours.
    std::chrono::seconds timeout{120};
  };

  // `endpoint`: a unix socket path (or "unix:///path"). Fails when the socket does not exist;
  // the connection itself is made by the first call.
  static Result<CriClient> connect(const std::string& endpoint, Options options);
  static Result<CriClient> connect(const std::string& endpoint) { return connect(endpoint, Options{}); }
  CriClient(CriClient&&) noexcept;
  CriClient& operator=(CriClient&&) noexcept;
  ~CriClient();

  Result<Version> version();
  Result<std::vector<RuntimeCondition>> status();

  Result<std::string> run_pod(const PodConfig& pod);  // the pod sandbox id
  Status stop_pod(const std::string& pod_id);
  Status remove_pod(const std::string& pod_id);
  Result<PodStatus> pod_status(const std::string& pod_id);
  // The config the pod was started with, as containerd keeps it (PodSandboxStatus, verbose):
  // what kubelet sends again with each CreateContainer.
  Result<PodConfig> pod_config(const std::string& pod_id);
  // With `labels`, only pods carrying all of them.
  Result<std::vector<PodStatus>> list_pods(const Labels& labels = {});

  // `pod` is the config the pod was started with (kubelet sends it again).
  Result<std::string> create_container(const std::string& pod_id, const ContainerConfig& container,
                                       const PodConfig& pod);
  Status start_container(const std::string& container_id);
  Status stop_container(const std::string& container_id, int64_t timeout_seconds);
  Status remove_container(const std::string& container_id);
  Result<ContainerStatus> container_status(const std::string& container_id);
  // pod_id empty: every pod's containers.
  Result<std::vector<ContainerStatus>> list_containers(const std::string& pod_id = "");
  // timeout_seconds 0: no limit but the call's deadline.
  Result<ExecResult> exec_sync(const std::string& container_id, const std::vector<std::string>& cmd,
                               int64_t timeout_seconds = 0);

 private:
  struct Impl;
  explicit CriClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The uid kata-sentry uses when a pod config has none: stable for a namespace/name pair, in
// the 8-4-4-4-12 form of a Kubernetes uid.
std::string derived_pod_uid(const std::string& ns, const std::string& name);

}  // namespace kata_sentry::cri
