// Placeholder until the issue that owns `kata-sentry check` lands.
#include <cstdio>

#include "runtime/cli/commands.h"

namespace kata_sentry::cli {

int cmd_check(int, char**) {
  std::fputs("kata-sentry check: not built yet\n", stderr);
  return 1;
}

}  // namespace kata_sentry::cli
