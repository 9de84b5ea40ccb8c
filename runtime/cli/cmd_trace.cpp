// Placeholder until the issue that owns `kata-sentry trace` lands.
#include <cstdio>

#include "runtime/cli/commands.h"

namespace kata_sentry::cli {

int cmd_trace(int, char**) {
  std::fputs("kata-sentry trace: not built yet\n", stderr);
  return 1;
}

}  // namespace kata_sentry::cli
