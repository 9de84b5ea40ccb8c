// PID-1 work of the guest: the kernel starts kata-sentry-agent as /init, and before the
// agent can serve it must build the guest's world: pseudo filesystems, cgroup v2 with the
// controllers containers need, the virtio modules, and the virtio-fs share.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agent/guest_modules.h"  // generated from runtime/guest-image/guest-modules.list
#include "core/guest_paths.h"
#include "core/result.h"

namespace kata_sentry::agent {

struct GuestInitOptions {
  // Loaded (with their modules.dep dependencies) in this order.
  std::vector<std::string> modules = guest_modules();
  // Loaded after them when the kernel command line has ks.net=1: the host attached virtio-net
  // NICs for a CRI pod's network (runtime/network/pod_network.h).
  std::vector<std::string> network_modules = guest_network_modules();
  std::string share_tag = "kshared";  // the vhost-user-fs-pci tag the host gives the share
  std::filesystem::path share_mount = guest_paths::kShareDir;
  std::filesystem::path cgroup_parent = "/sys/fs/cgroup/kata-sentry";
};

// The initramfs root cannot be pivot_root'ed away from, so container launches would have to fall
// back to chroot. When still on it, copies the initramfs into a tmpfs, empties the old root,
// moves the tmpfs onto / and re-executes /init there (like busybox switch_root); returns only
// when already switched (or on failure, which leaves the initramfs root in use).
Status switch_root_if_initramfs(char** argv);

// Mounts proc, sys, dev, devpts, shm, securityfs, tracefs, bpffs, a tmpfs on /run and /tmp, and
// cgroup2 on /sys/fs/cgroup (with +cpu +memory +pids enabled for children); loads the modules;
// mounts the share. Fails naming the step ("mount tracefs on /sys/kernel/tracing: ENODEV").
// A missing optional filesystem (tracefs, securityfs) is only logged: containers run without it.
Status init_guest(const GuestInitOptions& options);

// Reads KEY=VALUE words of /proc/cmdline that the kernel did not consume (e.g. ks.port=agent.0).
std::string kernel_cmdline_value(const std::string& key, const std::string& fallback);

// Writes a line to the console (/dev/kmsg when available), the only log the host sees before the
// agent channel is up.
void console_log(const std::string& line);

// Powers the VM off (PID 1 must never return: the kernel would panic).
[[noreturn]] void power_off();

}  // namespace kata_sentry::agent
