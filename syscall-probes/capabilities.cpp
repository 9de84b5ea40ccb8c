#include "syscall-probes/capabilities.h"

#include <linux/bpf.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "syscall-probes/bpf_util.h"

namespace kata_sentry::probes {
namespace {

// The smallest valid program: r0 = ret; exit.
struct TinyProgram {
  bpf_insn insns[2];
  explicit TinyProgram(int ret) {
    std::memset(insns, 0, sizeof insns);
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[0].imm = ret;
    insns[1].code = BPF_JMP | BPF_EXIT;
  }
};

struct LoadSpec {
  const char* name;
  bpf_prog_type type;
  bpf_attach_type attach = bpf_attach_type(0);
  // BTF-typed programs need a kernel function/tracepoint to attach to; tried in order.
  std::vector<const char*> btf_targets = {};
  int ret = 0;
};

// "" when a program of this type loads, else why not.
std::string try_load(const LoadSpec& spec) {
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = spec.attach;
  if (!spec.btf_targets.empty()) {
    int id = -ENOENT;
    for (const char* target : spec.btf_targets) {
      id = libbpf_find_vmlinux_btf_id(target, spec.attach);
      if (id > 0) break;
    }
    if (id <= 0) return std::string("no BTF id for ") + spec.btf_targets.front() + ": " + errno_name(-id);
    opts.attach_btf_id = id;
  }
  TinyProgram prog(spec.ret);
  int fd = bpf_prog_load(spec.type, "ks_cap_probe", "Dual BSD/GPL", prog.insns, 2, &opts);
  if (fd < 0) return "BPF_PROG_LOAD " + errno_name(-fd);
  close(fd);
  return "";
}

const std::vector<LoadSpec>& load_specs() {
  static const std::vector<LoadSpec> specs = {
      {"tracepoint", BPF_PROG_TYPE_TRACEPOINT},
      {"raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT},
      {"tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, {"sys_enter"}},
      {"cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, {}, 1},
      {"cgroup/connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, {}, 1},
      {"cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, {}, 1},
      {"fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, {"security_file_open", "vfs_read"}},
      {"lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, {"file_open", "bprm_check_security"}},
      {"kprobe", BPF_PROG_TYPE_KPROBE},
  };
  return specs;
}

Capability from_load(const ProgTypeSupport* p) {
  if (!p) return {false, "not probed"};
  return {p->loads, p->loads ? "a program loads" : p->detail};
}

}  // namespace

const ProgTypeSupport* BpfCapabilities::find(std::string_view name) const {
  for (const auto& p : prog_types)
    if (p.name == name) return &p;
  return nullptr;
}

std::string read_lsm_list(const std::string& securityfs) {
  std::ifstream in(securityfs + "/lsm");
  std::string list;
  std::getline(in, list);
  return list;
}

BpfCapabilities probe_bpf_capabilities() {
  BpfCapabilities caps;
  for (const auto& spec : load_specs()) {
    std::string why = try_load(spec);
    caps.prog_types.push_back({spec.name, why.empty(), why});
  }
  caps.tracepoint = from_load(caps.find("tracepoint"));
  caps.fentry = from_load(caps.find("fentry"));

  caps.kprobe = from_load(caps.find("kprobe"));
  if (caps.kprobe.available) {
    // A kprobe program loads wherever the type exists; attaching needs the kprobe PMU
    // (or tracefs kprobe_events, which is absent on the same hosts).
    std::error_code ec;
    if (!std::filesystem::exists("/sys/bus/event_source/devices/kprobe", ec))
      caps.kprobe = {false, "loads, but cannot attach: no kprobe PMU (/sys/bus/event_source/devices/kprobe)"};
    else
      caps.kprobe.detail = "loads; kprobe PMU present";
  }

  // BPF LSM needs both: "bpf" among the active LSMs (else programs load but never run)
  // and a program that loads (lockdown can refuse it with EPERM).
  const ProgTypeSupport* lsm = caps.find("lsm");
  std::string list = read_lsm_list();
  bool listed = false;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (item == "bpf") listed = true;
  if (list.empty())
    caps.bpf_lsm = {false, "cannot read /sys/kernel/security/lsm (securityfs not mounted?)" +
                               std::string(lsm && !lsm->loads ? "; " + lsm->detail : "")};
  else if (!listed)
    caps.bpf_lsm = {false, "bpf is not an active LSM (" + list + ")"};
  else if (lsm && !lsm->loads)
    caps.bpf_lsm = {false, "bpf is an active LSM, but lsm programs fail: " + lsm->detail};
  else
    caps.bpf_lsm = {true, "active LSMs: " + list};
  return caps;
}

ProbeBackend choose_backend(const BpfCapabilities& caps) {
  ProbeBackend b;
  b.use_lsm = caps.bpf_lsm.available;
  // fentry would only replace tracepoints we already have; it is detected and reported,
  // and a future fentry set would switch on here.
  b.use_fentry = false;
  b.report = "using tracepoints";
  if (b.use_lsm) b.report += " + lsm";
  std::string why;
  if (!caps.fentry.available) why += "fentry unavailable: " + caps.fentry.detail;
  if (!caps.bpf_lsm.available) why += std::string(why.empty() ? "" : "; ") + "lsm unavailable: " + caps.bpf_lsm.detail;
  if (!why.empty()) b.report += ": " + why;
  return b;
}

}  // namespace kata_sentry::probes
