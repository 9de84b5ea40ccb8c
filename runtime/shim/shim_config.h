// The shim's own configuration, /etc/kata-sentry/shim.yaml (or the file named by
// KATA_SENTRY_SHIM_CONFIG, which containerd passes through to the shims it starts): where
// kata-sentryd listens, and whether a pod may run while the daemon cannot watch it.
#pragma once

#include <string>

#include "core/result.h"

namespace kata_sentry::shim {

inline constexpr const char* kShimConfigPath = "/etc/kata-sentry/shim.yaml";
inline constexpr const char* kShimConfigEnv = "KATA_SENTRY_SHIM_CONFIG";

struct ShimConfig {
  std::string path;  // the file read (or the default path that did not exist)
  std::string daemon_socket = "/run/kata-sentry/sentryd.sock";
  // fail-closed: a pod whose sandbox kata-sentryd cannot watch does not start. fail-open: it
  // runs unwatched, with an error in the shim's log.
  bool fail_closed = true;
};

// The default path may be missing (defaults apply); a file named by the environment must exist.
Result<ShimConfig> load_shim_config();

}  // namespace kata_sentry::shim
