#include "runtime/shim/cri_annotations.h"

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
  return out;
}

}  // namespace kata_sentry::shim
