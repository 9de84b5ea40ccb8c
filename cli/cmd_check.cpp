// `kata-sentry check`: what this host offers, like `kata-runtime check`. Every answer
// comes from a real probe (load a program, open a device), never from a version check.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/host_support.h"
#include "syscall-probes/capabilities.h"
#include "host-probes/host_deny.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "sentryd/daemon_probe.h"

namespace kata_sentry::cli {
namespace {

nlohmann::ordered_json to_json(const Capability& c) {
  return {{"available", c.available}, {"detail", c.detail}};
}

void print_line(const char* what, const Capability& c) {
  std::printf("  %-14s %-4s %s\n", what, c.available ? "yes" : "no", c.detail.c_str());
}

}  // namespace

int cmd_check(int argc, char** argv) {
  bool json = false;
  std::string daemon_config;
  FlagParser flags("kata-sentry check [flags]",
                   "Report what this host offers: which BPF program types load, whether BPF LSM, fentry\n"
                   "and kprobes work, and whether KVM, vhost-vsock, virtiofsd and cgroup v2 are usable.\n"
                   "BPF answers need root (CAP_BPF); without it every program type reports EPERM.");
  flags.add_bool("json", 'j', "print one JSON object instead of a table", &json);
  flags.add_string("daemon-config", '\0', "FILE", "kata-sentryd's config (default /etc/kata-sentry/sentryd.yaml, if present)", &daemon_config);
  auto rest = flags.parse(argc, argv, 2);
  if (!rest.empty()) throw UsageError{"unexpected argument \"" + rest.front() + "\""};

  auto bpf = probes::probe_bpf_capabilities();
  auto backend = probes::choose_backend(bpf);
  Capability kvm = probe_kvm(), vsock = probe_vhost_vsock(), virtiofsd = probe_virtiofsd(),
             cgroup2 = probe_cgroup2();
  Capability host_deny = probes::probe_host_deny();
  auto daemon = daemon::probe_daemon(daemon_config);

  if (json) {
    nlohmann::ordered_json types = nlohmann::ordered_json::object();
    for (const auto& p : bpf.prog_types) {
      nlohmann::ordered_json t = {{"loads", p.loads}};
      if (!p.detail.empty()) t["detail"] = p.detail;
      types[p.name] = t;
    }
    nlohmann::ordered_json out = {
        {"root", geteuid() == 0},
        {"bpf",
         {{"program_types", types},
          {"tracepoints", to_json(bpf.tracepoint)},
          {"fentry", to_json(bpf.fentry)},
          {"lsm", to_json(bpf.bpf_lsm)},
          {"kprobes", to_json(bpf.kprobe)}}},
        {"host_probes", {{"lsm", backend.use_lsm}, {"fentry", backend.use_fentry}, {"report", backend.report}}},
        {"host_deny", to_json(host_deny)},
        {"kvm", to_json(kvm)},
        {"vhost_vsock", to_json(vsock)},
        {"virtiofsd", to_json(virtiofsd)},
        {"cgroup2", to_json(cgroup2)},
    };
    if (daemon.configured)
      out["daemon"] = {{"config", daemon.config_path}, {"socket", to_json(daemon.socket)}, {"metrics", to_json(daemon.metrics)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }

  std::printf("BPF program types (a tiny program of each type was loaded):\n");
  for (const auto& p : bpf.prog_types)
    std::printf("  %-16s %-4s %s\n", p.name.c_str(), p.loads ? "yes" : "no", p.detail.c_str());
  std::printf("BPF features:\n");
  print_line("tracepoints", bpf.tracepoint);
  print_line("fentry", bpf.fentry);
  print_line("BPF LSM", bpf.bpf_lsm);
  print_line("kprobes", bpf.kprobe);
  std::printf("Host probes: %s\n", backend.report.c_str());
  print_line("host deny", host_deny);
  std::printf("Virtualization:\n");
  print_line("KVM", kvm);
  print_line("vhost-vsock", vsock);
  print_line("virtiofsd", virtiofsd);
  print_line("cgroup v2", cgroup2);
  if (daemon.configured) {
    std::printf("kata-sentryd (%s):\n", daemon.config_path.c_str());
    print_line("API socket", daemon.socket);
    print_line("metrics", daemon.metrics);
  }
  if (geteuid() != 0) std::printf("Note: not running as root; BPF results reflect missing privileges.\n");
  return 0;
}

}  // namespace kata_sentry::cli
