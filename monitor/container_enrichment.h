// What the host knows of a container from the runtime spec it sends into the guest, as the
// container.* fields of the container's guest events: privileged, the mounts, the image.
// The guest cannot change any of it (the host keeps it), unlike what the guest reports.
#pragma once

#include <string>

#include "core/oci/oci_spec.h"
#include "policy-engine/fields.h"

namespace kata_sentry::monitor {

// privileged: the process gets every capability we know, no seccomp filter and no masked
// paths (what --privileged and CRI's privileged give; a spec has no flag of its own).
// image: "repository[:tag]" when the caller knows it ("" leaves container.image unknown).
policy::Enrichment container_enrichment(const OciSpec& spec, const std::string& image = "");

}  // namespace kata_sentry::monitor
