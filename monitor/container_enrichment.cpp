#include "monitor/container_enrichment.h"

#include <algorithm>

#include "core/capability_names.h"

namespace kata_sentry::monitor {
namespace {

bool has_all_capabilities(const std::optional<OciCapabilities>& caps) {
  if (!caps) return false;
  for (auto name : all_capability_names())
    if (std::find(caps->effective.begin(), caps->effective.end(), name) == caps->effective.end()) return false;
  return true;
}

policy::ContainerMount mount_of(const OciMount& m) {
  policy::ContainerMount out;
  out.source = m.source;
  out.dest = m.destination;
  for (const auto& o : m.options) {
    if (o == "ro") out.rw = false;
    else if (o == "rw") out.rw = true;
    else if (o == "z" || o == "Z") out.mode = o;
    else if (o == "private" || o == "rprivate" || o == "shared" || o == "rshared" || o == "slave" || o == "rslave" ||
             o == "unbindable" || o == "runbindable")
      out.propagation = o;
  }
  return out;
}

}  // namespace

policy::Enrichment container_enrichment(const OciSpec& spec, const std::string& image) {
  policy::Enrichment e;
  e.privileged = has_all_capabilities(spec.process.capabilities) && !spec.linux.seccomp && spec.linux.masked_paths.empty();
  std::vector<policy::ContainerMount> mounts;
  for (const auto& m : spec.mounts) mounts.push_back(mount_of(m));
  e.mounts = std::move(mounts);
  if (!image.empty()) {
    // "repo:tag" (a registry port is not a tag: the tag follows the last '/').
    auto slash = image.rfind('/');
    auto colon = image.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
      e.image_repository = image.substr(0, colon);
      e.image_tag = image.substr(colon + 1);
    } else {
      e.image_repository = image;
    }
  }
  return e;
}

}  // namespace kata_sentry::monitor
