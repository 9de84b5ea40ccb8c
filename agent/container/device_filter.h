// linux.resources.devices on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program assembled here
// (a handful of instructions, no libbpf, no compiler) and attached to the container's cgroup.
// The kernel asks it on every open and mknod of a device node inside the cgroup.
#pragma once

#include <linux/bpf.h>

#include <filesystem>
#include <vector>

#include "core/oci/oci_spec.h"
#include "core/result.h"

namespace kata_sentry::agent {

// The program for a rule list: the last rule that matches decides (an allow rule must cover
// every requested access, a deny rule matches any overlap); no match denies. Pure; never fails.
std::vector<bpf_insn> build_device_filter(const std::vector<OciDeviceRule>& rules);

// What runc allows every container after the spec's own rules (libcontainer's AllowedDevices):
// mknod of any node; read, write and mknod of /dev/null, zero, full, random, urandom, tty,
// ptmx, /dev/pts/* and /dev/net/tun. containerd's CRI plugin relies on it: its specs deny every
// device and list none of these, so a CRI container could not even write to /dev/null.
const std::vector<OciDeviceRule>& default_allowed_devices();

// Loads the program and attaches it to the cgroup directory. The attachment lives as long as
// the cgroup. Fails with the verifier's log or the bpf(2) errno, naming the cgroup.
Status attach_device_filter(const std::filesystem::path& cgroup_dir, const std::vector<OciDeviceRule>& rules);

}  // namespace kata_sentry::agent
