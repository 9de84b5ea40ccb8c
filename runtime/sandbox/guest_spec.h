// A container's OCI spec as containerd wrote it names host things the guest cannot see: bind
// mounts of host paths (every Kubernetes volume: emptyDir, configMap, secret, hostPath, the CRI
// plugin's resolv.conf/hosts/hostname, the pod's /dev/shm) and, for a CRI pod, namespace paths
// of host processes (/var/run/netns/cni-…, /proc/<pid>/ns/ipc). plan_guest_spec() turns it into
// the spec the agent runs plus the host-side steps that make it true:
//
// - a bind of an absolute host path becomes a bind of <bundle>/volumes/<n> in the guest, and the
//   host binds the source there inside the sandbox's virtio-fs share (read-only when the mount
//   is): only declared sources ever enter the share;
// - a pod's /dev/shm bind becomes the pod's one guest tmpfs (guest_paths::kPodShm);
// - the network namespace entry with a path is dropped: the VM is the pod, its NICs are the
//   pod's (runtime/network/), and every container of the pod uses the guest's network;
// - ipc/uts entries with a path are joined in the guest from the pod's sandbox container
//   (pod_namespaces); any other namespace path is refused, naming it.
//
// Pure apart from stat() of bind sources; fails with invalid_argument naming the mount or the
// namespace: "mounts[3] /data: source /nope does not exist".
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::runtime {

struct HostBind {
  std::filesystem::path source;  // host path, absolute
  std::string share_path;        // relative to the container's bundle in the share: "volumes/<n>"
  bool directory = true;         // false: a file is bound onto a file
  bool readonly = false;
};

struct GuestSpecPlan {
  OciSpec spec;                             // what the agent gets
  std::vector<HostBind> binds;              // made on the host before the agent creates the container
  std::vector<std::string> pod_namespaces;  // "ipc", "uts": join the pod sandbox container's
};

struct GuestSpecOptions {
  bool pod_shm = false;     // the pod has a guest /dev/shm tmpfs (a CRI pod)
  bool in_pod = false;      // a CRI container: ipc/uts paths name the pod's, joined in the guest
};

Result<GuestSpecPlan> plan_guest_spec(const OciSpec& spec, const GuestSpecOptions& options);

}  // namespace kata_sentry::runtime
