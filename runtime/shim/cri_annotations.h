// The CRI plugin's OCI annotations that matter to a shim: which pod a container belongs to
// (one VM per pod) and the pod's Kubernetes name, for alerts. A plain `ctr run` has none.
#pragma once

#include <filesystem>
#include <string>

namespace kata_sentry::shim {

struct CriAnnotations {
  std::string container_type;     // io.kubernetes.cri.container-type: "sandbox" or "container"
  std::string sandbox_id;         // io.kubernetes.cri.sandbox-id
  std::string sandbox_name;       // io.kubernetes.cri.sandbox-name (the pod's name)
  std::string sandbox_namespace;  // io.kubernetes.cri.sandbox-namespace
};

// From <bundle>/config.json; fields stay empty when the file or the annotation is missing.
CriAnnotations read_cri_annotations(const std::filesystem::path& bundle);

}  // namespace kata_sentry::shim
