#include "runtime/shim/cri_annotations.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace kata_sentry::shim {

CriAnnotations read_cri_annotations(const std::filesystem::path& bundle) {
  CriAnnotations out;
  std::ifstream in(bundle / "config.json");
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  auto spec = nlohmann::json::parse(ss.str(), nullptr, false);
  if (spec.is_discarded() || !spec.contains("annotations") || !spec["annotations"].is_object()) return out;
  const auto& a = spec["annotations"];
  auto get = [&](const char* k) { return a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : std::string(); };
  out.container_type = get("io.kubernetes.cri.container-type");
  out.sandbox_id = get("io.kubernetes.cri.sandbox-id");
  out.sandbox_name = get("io.kubernetes.cri.sandbox-name");
  out.sandbox_namespace = get("io.kubernetes.cri.sandbox-namespace");
  out.sandbox_uid = get("io.kubernetes.cri.sandbox-uid");
  out.sandbox_cpu_period = get("io.kubernetes.cri.sandbox-cpu-period");
  out.sandbox_cpu_quota = get("io.kubernetes.cri.sandbox-cpu-quota");
  out.sandbox_memory = get("io.kubernetes.cri.sandbox-memory");
  return out;
}

namespace {

// "" -> 0; otherwise a decimal integer (kubelet's -1 "no limit" for a quota included).
Result<int64_t> annotation_number(const char* name, const std::string& text) {
  if (text.empty()) return 0;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    return fail(ErrorCode::invalid_argument, std::string("pod resources: ") + name + "=\"" + text.substr(0, 32) +
                                                 "\" is not a number");
  return v;
}

}  // namespace

Result<VmSize> pod_vm_size(const CriAnnotations& a, VmSize base, int max_cpus, int max_memory_mb) {
  auto period = annotation_number("io.kubernetes.cri.sandbox-cpu-period", a.sandbox_cpu_period);
  if (!period) return std::unexpected(period.error());
  auto quota = annotation_number("io.kubernetes.cri.sandbox-cpu-quota", a.sandbox_cpu_quota);
  if (!quota) return std::unexpected(quota.error());
  auto memory = annotation_number("io.kubernetes.cri.sandbox-memory", a.sandbox_memory);
  if (!memory) return std::unexpected(memory.error());
  if (*period < 0 || *memory < 0 || *quota < -1)
    return fail(ErrorCode::invalid_argument, "pod resources: negative cpu period (" + a.sandbox_cpu_period + "), quota (" +
                                                 a.sandbox_cpu_quota + ") or memory (" + a.sandbox_memory + ")");
  VmSize size = base;
  if (*quota > 0) {
    if (*period == 0)
      return fail(ErrorCode::invalid_argument, "pod resources: cpu quota " + a.sandbox_cpu_quota + " without a cpu period");
    int64_t cpus = (*quota + *period - 1) / *period;
    if (cpus > max_cpus - base.cpus)
      return fail(ErrorCode::invalid_argument, "pod resources: cpu quota " + a.sandbox_cpu_quota + "/" + a.sandbox_cpu_period +
                                                   " asks for " + std::to_string(cpus) + " CPUs; a VM has at most " +
                                                   std::to_string(max_cpus) + " (" + std::to_string(base.cpus) +
                                                   " of them the VM's own)");
    size.cpus += int(cpus);
  }
  if (*memory > 0) {
    int64_t mib = (*memory + (1 << 20) - 1) >> 20;
    if (mib > max_memory_mb - base.memory_mb)
      return fail(ErrorCode::invalid_argument, "pod resources: memory " + a.sandbox_memory + " bytes (" + std::to_string(mib) +
                                                   " MiB) and the VM's own " + std::to_string(base.memory_mb) +
                                                   " MiB exceed the " + std::to_string(max_memory_mb) + " MiB one VM may have");
    size.memory_mb += int(mib);
  }
  return size;
}

}  // namespace kata_sentry::shim
