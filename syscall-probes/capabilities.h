// BPF capability detection for the host probes: which program types really load here,
// and whether BPF LSM, fentry and kprobes work. Probes by loading a tiny program of each
// type (feature probes, not kernel-version checks): libbpf_probe_bpf_prog_type says yes
// to fentry/lsm on hosts where BPF_PROG_LOAD then fails with EPERM.
#pragma once

#include <string>
#include <vector>

#include "core/host_support.h"

namespace kata_sentry::probes {

struct ProgTypeSupport {
  std::string name;    // "tracepoint", "raw_tp", "tp_btf", "cgroup_skb", "cgroup/connect4", ...
  bool loads = false;
  std::string detail;  // "" when it loads, else why not: "BPF_PROG_LOAD EPERM"
};

struct BpfCapabilities {
  std::vector<ProgTypeSupport> prog_types;  // in a fixed order
  Capability bpf_lsm;   // "bpf" in /sys/kernel/security/lsm AND an lsm program loads
  Capability fentry;    // a fentry program loads
  Capability kprobe;    // a kprobe program loads AND a kprobe PMU exists to attach it
  Capability tracepoint;

  const ProgTypeSupport* find(std::string_view name) const;
};

// Never fails: what could not be probed is reported as unavailable with the reason.
// Loads and unloads about ten tiny programs (a few ms); needs CAP_BPF to say yes.
BpfCapabilities probe_bpf_capabilities();

// Which program set the host probes use: tracepoints always, plus the LSM set when BPF
// LSM works. `report` is what the loader logs and `check` prints, e.g.
// "using tracepoints: fentry unavailable: BPF_PROG_LOAD EPERM; lsm unavailable: ...".
struct ProbeBackend {
  bool use_lsm = false;
  bool use_fentry = false;  // no fentry program set exists yet; reported for completeness
  std::string report;
};
ProbeBackend choose_backend(const BpfCapabilities& caps);

// The active LSMs ("lockdown,capability,landlock,bpf"), or "" when securityfs is not
// readable. `root` is for tests.
std::string read_lsm_list(const std::string& securityfs = "/sys/kernel/security");

}  // namespace kata_sentry::probes
