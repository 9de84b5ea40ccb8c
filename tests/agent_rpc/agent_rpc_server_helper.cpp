// The agent as its own process for tests: serves on fd 3.
// Usage: agent_rpc_server_helper SHARED_DIR CGROUP_PARENT
#include <cstdio>

#include "agent/service/agent_server.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SHARED_DIR CGROUP_PARENT\n", argv[0]);
    return 2;
  }
  kata_sentry::agent::AgentServerOptions options;
  options.shared_dir = argv[1];
  options.cgroup_parent = argv[2];
  auto s = kata_sentry::agent::serve_agent(3, options);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().describe().c_str());
    return 1;
  }
  return 0;
}
