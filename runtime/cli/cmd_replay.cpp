// Placeholder until the issue that owns `kata-sentry replay` lands.
#include <cstdio>

#include "runtime/cli/commands.h"

namespace kata_sentry::cli {

int cmd_replay(int, char**) {
  std::fputs("kata-sentry replay: not built yet\n", stderr);
  return 1;
}

}  // namespace kata_sentry::cli
