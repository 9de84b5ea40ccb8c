// Capability detection for the VM side of a host: KVM, vhost-vsock, virtiofsd and the
// cgroup v2 mount. Probes what the host allows instead of assuming (DESIGN.md). BPF
// program-type probes live with the probes (syscall-probes/capabilities.h).
#pragma once

#include <string>

namespace kata_sentry {

struct Capability {
  bool available = false;
  std::string detail;  // why not, or what was found ("/dev/kvm: no vmx/svm CPU flag")
};

// KVM is usable only when /dev/kvm opens, KVM_GET_API_VERSION answers 12, a VM can be
// created, and the CPU advertises vmx or svm (PVM-style hosts expose /dev/kvm without it
// and QEMU aborts with "failed to set MSR").
Capability probe_kvm();
Capability probe_vhost_vsock();     // /dev/vhost-vsock opens
Capability probe_virtiofsd();       // detail = the binary path found
Capability probe_cgroup2();         // detail = the cgroup2 mount point

// The virtiofsd binary, or "" when none is installed.
std::string find_virtiofsd();
// The cgroup2 mount point (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified), or "".
std::string find_cgroup2_mount();

}  // namespace kata_sentry
