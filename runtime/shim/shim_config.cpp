#include "runtime/shim/shim_config.h"

#include <cstdlib>

#include "core/strict_yaml.h"

namespace kata_sentry::shim {

Result<ShimConfig> load_shim_config() {
  ShimConfig c;
  const char* env = std::getenv(kShimConfigEnv);
  bool from_env = env && *env;
  c.path = from_env ? env : kShimConfigPath;
  std::string policy = "fail-closed";
  config::StrictYaml y;
  y.string("daemon_socket", &c.daemon_socket);
  y.choice("daemon_policy", {"fail-closed", "fail-open"}, &policy);
  if (auto st = y.load_file(c.path, !from_env); !st) return std::unexpected(st.error());
  c.fail_closed = policy == "fail-closed";
  return c;
}

}  // namespace kata_sentry::shim
