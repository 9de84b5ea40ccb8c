#include "agent/container/seccomp_program.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace kata_sentry::agent {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const noexcept { seccomp_release(ctx); }
};
using CtxPtr = std::unique_ptr<void, CtxDeleter>;

uint32_t action_value(const std::string& name, std::optional<uint32_t> errno_ret) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));  // SCMP_ACT_ERRNO; the parser checked the rest
}

scmp_compare compare_op(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return SCMP_CMP_EQ;
}

}  // namespace

namespace {

Result<std::vector<sock_filter>> compile_uncached(const OciSeccomp& profile) {
  const uint32_t default_action = action_value(profile.default_action, profile.default_errno_ret);
  CtxPtr ctx(seccomp_init(default_action));
  if (!ctx) return fail(ErrorCode::invalid_argument, "linux.seccomp.defaultAction: libseccomp refused " + profile.default_action);

  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    std::string name = profile.architectures[i];
    if (name.starts_with("SCMP_ARCH_")) name.erase(0, 10);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0)
      return fail(ErrorCode::invalid_argument, "linux.seccomp.architectures[" + std::to_string(i) +
                                                   "]: unknown architecture \"" + profile.architectures[i] + "\"");
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST)
      return fail(ErrorCode::invalid_argument, "linux.seccomp.architectures[" + std::to_string(i) + "]: add " +
                                                   profile.architectures[i], -rc);
  }

  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    const OciSeccompSyscall& rule = profile.syscalls[i];
    const uint32_t action = action_value(rule.action, rule.errno_ret);
    if (action == default_action) continue;  // libseccomp rejects a rule that changes nothing
    std::vector<scmp_arg_cmp> cmps;
    std::set<uint32_t> indexes;
    bool repeated = false;
    for (const auto& a : rule.args) {
      cmps.push_back({a.index, compare_op(a.op), a.value, a.value_two});
      repeated |= !indexes.insert(a.index).second;
    }
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      // Comparisons on one argument index are alternatives (OR): one rule each.
      std::vector<std::vector<scmp_arg_cmp>> sets;
      if (repeated) for (const auto& c : cmps) sets.push_back({c});
      else sets.push_back(cmps);
      for (const auto& set : sets) {
        int rc = seccomp_rule_add_array(ctx.get(), action, nr, unsigned(set.size()), set.empty() ? nullptr : set.data());
        if (rc != 0)
          return fail(ErrorCode::invalid_argument,
                      "linux.seccomp.syscalls[" + std::to_string(i) + "]: add rule for " + name, -rc);
      }
    }
  }

  // libseccomp 2.5 exports only to an fd; a memfd keeps it in memory.
  int fd = ::memfd_create("ks-seccomp", MFD_CLOEXEC);
  if (fd < 0) return fail_errno("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx.get(), fd);
  if (rc != 0) {
    ::close(fd);
    return fail(ErrorCode::internal, "seccomp: export BPF", -rc);
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  std::vector<sock_filter> prog(size_t(size) / sizeof(sock_filter));
  ssize_t n = ::pread(fd, prog.data(), prog.size() * sizeof(sock_filter), 0);
  ::close(fd);
  if (size <= 0 || n != ssize_t(prog.size() * sizeof(sock_filter)))
    return fail(ErrorCode::internal, "seccomp: read exported BPF (" + std::to_string(size) + " bytes)");
  return prog;
}

}  // namespace

Result<std::vector<sock_filter>> compile_seccomp(const OciSeccomp& profile) {
  // Compiling a profile costs milliseconds; containers and execs of one pod share theirs.
  static std::mutex mu;
  static std::map<std::string, std::vector<sock_filter>> cache;
  OciSpec key_spec;
  key_spec.linux.seccomp = profile;
  std::string key = oci_spec_to_json(key_spec);
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto prog = compile_uncached(profile);
  if (!prog) return prog;
  std::lock_guard lock(mu);
  if (cache.size() >= 32) cache.clear();
  cache.emplace(std::move(key), *prog);
  return prog;
}

}  // namespace kata_sentry::agent
