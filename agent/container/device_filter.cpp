#include "agent/container/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace kata_sentry::agent {
namespace {

// Registers of the program: r2 device type, r3 requested access, r4 major, r5 minor, r1 scratch.
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_ctx_u32(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn and_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm); }
// Jump offsets are patched once the block's length is known.
bpf_insn jne_imm(uint8_t dst, int32_t imm) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm); }
bpf_insn jeq_imm(uint8_t dst, int32_t imm) { return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int access_bits(const std::string& access) {
  int bits = 0;
  for (char c : access) bits |= c == 'm' ? BPF_DEVCG_ACC_MKNOD : c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
  return bits;
}

}  // namespace

std::vector<bpf_insn> build_device_filter(const std::vector<OciDeviceRule>& rules) {
  std::vector<bpf_insn> prog = {
      load_ctx_u32(2, offsetof(bpf_cgroup_dev_ctx, access_type)),
      load_ctx_u32(4, offsetof(bpf_cgroup_dev_ctx, major)),
      load_ctx_u32(5, offsetof(bpf_cgroup_dev_ctx, minor)),
      mov_reg(3, 2), rsh_imm(3, 16),  // access
      and_imm(2, 0xffff),             // type
  };
  // Last rule first: the first block that matches returns its verdict.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const OciDeviceRule& r = *it;
    std::vector<bpf_insn> block;
    std::vector<size_t> skips;  // jumps to the end of this block
    if (r.type == "c" || r.type == "b") {
      skips.push_back(block.size());
      block.push_back(jne_imm(2, r.type == "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    }
    const int acc = access_bits(r.access);
    block.push_back(mov_reg(1, 3));
    if (r.allow) {
      block.push_back(and_imm(1, ~acc & 7));  // asks for more than the rule allows: not ours
      skips.push_back(block.size());
      block.push_back(jne_imm(1, 0));
    } else {
      block.push_back(and_imm(1, acc));       // no overlap with what the rule denies
      skips.push_back(block.size());
      block.push_back(jeq_imm(1, 0));
    }
    if (r.major && *r.major >= 0) {
      skips.push_back(block.size());
      block.push_back(jne_imm(4, int32_t(*r.major)));
    }
    if (r.minor && *r.minor >= 0) {
      skips.push_back(block.size());
      block.push_back(jne_imm(5, int32_t(*r.minor)));
    }
    block.push_back(mov_imm(0, r.allow ? 1 : 0));
    block.push_back(exit_insn());
    for (size_t j : skips) block[j].off = int16_t(block.size() - j - 1);
    prog.insert(prog.end(), block.begin(), block.end());
  }
  prog.push_back(mov_imm(0, 0));
  prog.push_back(exit_insn());
  return prog;
}

const std::vector<OciDeviceRule>& default_allowed_devices() {
  static const std::vector<OciDeviceRule> rules = {
      {true, "c", std::nullopt, std::nullopt, "m"}, {true, "b", std::nullopt, std::nullopt, "m"},
      {true, "c", 1, 3, "rwm"},   {true, "c", 1, 8, "rwm"},  {true, "c", 1, 7, "rwm"},
      {true, "c", 5, 0, "rwm"},   {true, "c", 1, 5, "rwm"},  {true, "c", 1, 9, "rwm"},
      {true, "c", 136, std::nullopt, "rwm"}, {true, "c", 5, 2, "rwm"}, {true, "c", 10, 200, "rwm"},
  };
  return rules;
}

Status attach_device_filter(const std::filesystem::path& cgroup_dir, const std::vector<OciDeviceRule>& rules) {
  const std::string what = "linux.resources.devices: cgroup " + cgroup_dir.string();
  std::vector<bpf_insn> prog = build_device_filter(rules);
  static char license[] = "Apache-2.0";
  std::vector<char> log(16384, '\0');
  bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = uint64_t(uintptr_t(prog.data()));
  load.insn_cnt = uint32_t(prog.size());
  load.license = uint64_t(uintptr_t(license));
  load.log_buf = uint64_t(uintptr_t(log.data()));
  load.log_size = uint32_t(log.size());
  load.log_level = 1;
  std::strncpy(load.prog_name, "ks_devices", sizeof load.prog_name - 1);
  int prog_fd = int(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load));
  if (prog_fd < 0) {
    int e = errno;
    std::string verifier(log.data());
    if (verifier.size() > 400) verifier = verifier.substr(verifier.size() - 400);
    return fail(e == EPERM ? ErrorCode::permission_denied : ErrorCode::unavailable,
                what + ": load device program" + (verifier.empty() ? "" : " (verifier: " + verifier + ")"), e);
  }
  int cg_fd = ::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg_fd < 0) {
    ::close(prog_fd);
    return fail_errno(what + ": open");
  }
  bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = uint32_t(cg_fd);
  attach.attach_bpf_fd = uint32_t(prog_fd);
  attach.attach_type = BPF_CGROUP_DEVICE;
  long rc = ::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
  int e = errno;
  ::close(cg_fd);
  ::close(prog_fd);  // the attachment keeps the program alive
  if (rc != 0) {
    errno = e;
    return fail_errno(what + ": attach device program");
  }
  return {};
}

}  // namespace kata_sentry::agent
