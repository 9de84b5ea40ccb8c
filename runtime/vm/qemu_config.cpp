#include "runtime/vm/qemu_config.h"

#include "core/host_support.h"

namespace kata_sentry::vm {

const char* accelerator_name(Accelerator accel) { return accel == Accelerator::kvm ? "kvm" : "tcg"; }

AcceleratorChoice choose_accelerator() {
  Capability kvm = probe_kvm();
  if (kvm.available) return {Accelerator::kvm, "KVM usable" + (kvm.detail.empty() ? "" : ": " + kvm.detail)};
  return {Accelerator::tcg, "KVM not usable (" + kvm.detail + ")"};
}

std::vector<std::string> qemu_argv(const QemuConfig& c) {
  std::vector<std::string> a = {c.binary.string()};
  auto add = [&a](std::initializer_list<std::string> words) { a.insert(a.end(), words); };
  if (!c.name.empty()) add({"-name", c.name});
  // No default devices (VGA, NIC, floppy, monitor): less for TCG to emulate and probe.
  add({"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"});
  if (c.accel == Accelerator::kvm) {
    add({"-accel", "kvm", "-cpu", "host"});
  } else {
    // TCG's translation cache defaults to 1 GiB of address space and grows into ~85 MiB of RSS
    // per sandbox; all of it is touched (a full cache is flushed and refilled). 16 MiB instead of
    // 32 took 16-18 MiB off QEMU's PSS with no slowdown visible through this host's noise
    // (vm_run_bench, two alternated rounds of 3: container started 11.4/12.4 s vs 18.3/14.2 s).
    add({"-accel", "tcg,tb-size=16", "-cpu", "max"});
  }
  add({"-smp", std::to_string(c.cpus), "-m", std::to_string(c.memory_mb) + "M"});
  if (c.share) {
    // vhost-user-fs maps guest memory into virtiofsd, so it must be a shareable memfd.
    add({"-object", "memory-backend-memfd,id=mem,share=on,size=" + std::to_string(c.memory_mb) + "M",
         "-numa", "node,memdev=mem"});
  }
  add({"-kernel", c.kernel.string(), "-initrd", c.initrd.string(), "-append", c.kernel_cmdline});
  add({"-chardev", "file,id=console,path=" + c.console_log.string(), "-serial", "chardev:console"});
  add({"-chardev", "socket,id=qmp,path=" + c.qmp_socket.string() + ",server=on,wait=off",
       "-mon", "chardev=qmp,mode=control"});
  add({"-device", "virtio-serial-pci,id=vser0",
       "-chardev", "socket,id=agent,path=" + c.agent_socket.string() + ",server=on,wait=off",
       "-device", "virtserialport,bus=vser0.0,chardev=agent,name=" + c.agent_port_name});
  if (c.share) {
    add({"-chardev", "socket,id=vfs,path=" + c.share->vhost_socket.string(),
         "-device", "vhost-user-fs-pci,chardev=vfs,tag=" + c.share->tag});
  }
  for (size_t i = 0; i < c.nics.size(); ++i) {
    const std::string id = "net" + std::to_string(i);
    // vhost=off: no /dev/vhost-net here (and QEMU's seccomp sandbox would stop it opening one);
    // romfile= skips the PXE option ROM, which a -kernel boot never runs.
    add({"-netdev", "tap,id=" + id + ",fd=" + std::to_string(c.nics[i].fd) + ",vhost=off",
         "-device", "virtio-net-pci,netdev=" + id + ",mac=" + c.nics[i].mac + ",romfile="});
  }
  // The guest hands the pages it frees (the unpacked initrd, boot-time buffers) back to the
  // host: without it they stay resident in QEMU for the pod's life.
  add({"-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"});
  if (c.seccomp_sandbox) {
    add({"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"});
  }
  return a;
}

}  // namespace kata_sentry::vm
