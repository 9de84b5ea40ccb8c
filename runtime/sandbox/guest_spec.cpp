#include "runtime/sandbox/guest_spec.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/guest_paths.h"

namespace kata_sentry::runtime {
namespace {

bool has_option(const OciMount& m, std::string_view o) {
  return std::find(m.options.begin(), m.options.end(), o) != m.options.end();
}

bool is_bind(const OciMount& m) { return m.type == "bind" || has_option(m, "bind") || has_option(m, "rbind"); }

}  // namespace

Result<GuestSpecPlan> plan_guest_spec(const OciSpec& spec, const GuestSpecOptions& options) {
  GuestSpecPlan plan;
  plan.spec = spec;
  for (size_t i = 0; i < plan.spec.mounts.size(); ++i) {
    OciMount& m = plan.spec.mounts[i];
    if (!is_bind(m)) continue;
    const std::string field = "mounts[" + std::to_string(i) + "] " + m.destination;
    if (m.destination == "/dev/shm" && options.pod_shm) {
      // The CRI plugin's shm is a host tmpfs; shared memory must be guest memory.
      m.source = guest_paths::kPodShm;
      continue;
    }
    if (!std::filesystem::path(m.source).is_absolute()) continue;  // inside the bundle, as in the guest
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) {
      int e = errno;
      return fail(ErrorCode::invalid_argument,
                  field + ": source " + m.source + (e == ENOENT ? " does not exist" : std::string(": ") + std::strerror(e)));
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
      return fail(ErrorCode::invalid_argument, field + ": source " + m.source + " is neither a directory nor a file");
    HostBind b;
    b.source = m.source;
    b.share_path = "volumes/" + std::to_string(i);
    b.directory = S_ISDIR(st.st_mode);
    b.readonly = has_option(m, "ro");
    m.source = b.share_path;  // the agent resolves a relative source against the bundle
    plan.binds.push_back(std::move(b));
  }

  std::vector<OciNamespace> kept;
  for (const auto& ns : plan.spec.linux.namespaces) {
    if (ns.path.empty()) {
      kept.push_back(ns);
      continue;
    }
    if (ns.type == "network") continue;  // the VM's network is the pod's
    if (options.in_pod && (ns.type == "ipc" || ns.type == "uts")) {
      plan.pod_namespaces.push_back(ns.type);
      continue;  // the agent points it at the pod's sandbox container
    }
    return fail(ErrorCode::invalid_argument, "linux.namespaces " + ns.type + " " + ns.path +
                                                 ": a host namespace cannot be joined from inside the VM" +
                                                 (ns.type == "pid" ? " (a pod-wide pid namespace is not supported)" : ""));
  }
  plan.spec.linux.namespaces = std::move(kept);
  return plan;
}

}  // namespace kata_sentry::runtime
