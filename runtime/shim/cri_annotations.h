// The CRI plugin's OCI annotations that matter to a shim: which pod a container belongs to
// (one VM per pod) and the pod's Kubernetes name, for alerts. A plain `ctr run` has none.
#pragma once

#include <filesystem>
#include <string>

#include "core/result.h"

namespace kata_sentry::shim {

struct CriAnnotations {
  std::string container_type;     // io.kubernetes.cri.container-type: "sandbox" or "container"
  std::string sandbox_id;         // io.kubernetes.cri.sandbox-id
  std::string sandbox_name;       // io.kubernetes.cri.sandbox-name (the pod's name)
  std::string sandbox_namespace;  // io.kubernetes.cri.sandbox-namespace
  std::string sandbox_uid;        // io.kubernetes.cri.sandbox-uid (the pod's uid)
  // The pod's resources (containerd 1.6 sets them on the sandbox container from the CRI's
  // LinuxPodSandboxConfig.resources: the sum of its containers' limits), as text; "" when absent.
  std::string sandbox_cpu_period;  // io.kubernetes.cri.sandbox-cpu-period (µs)
  std::string sandbox_cpu_quota;   // io.kubernetes.cri.sandbox-cpu-quota (µs per period)
  std::string sandbox_memory;      // io.kubernetes.cri.sandbox-memory (bytes)
};

// The VM of a pod: a base size (the VM's own kernel, agent and page cache) plus the pod's limits,
// as Kata sizes a sandbox statically: cpus = base + ceil(quota / period), memory = base +
// ceil(bytes / MiB). No limits: the base. Fails naming the annotation and the value when it is
// not a number, negative, or beyond what one VM may have (max_cpus, max_memory_mb).
struct VmSize {
  int cpus = 1;
  int memory_mb = 512;
};
Result<VmSize> pod_vm_size(const CriAnnotations& a, VmSize base, int max_cpus, int max_memory_mb);

// From <bundle>/config.json; fields stay empty when the file or the annotation is missing.
CriAnnotations read_cri_annotations(const std::filesystem::path& bundle);

}  // namespace kata_sentry::shim
