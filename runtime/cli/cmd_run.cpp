// Placeholder until the issue that owns `kata-sentry run` lands.
#include <cstdio>

#include "runtime/cli/commands.h"

namespace kata_sentry::cli {

int cmd_run(int, char**) {
  std::fputs("kata-sentry run: not built yet\n", stderr);
  return 1;
}

}  // namespace kata_sentry::cli
