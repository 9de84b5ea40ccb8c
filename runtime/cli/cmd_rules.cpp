// Placeholder until the issue that owns `kata-sentry rules` lands.
#include <cstdio>

#include "runtime/cli/commands.h"

namespace kata_sentry::cli {

int cmd_rules(int, char**) {
  std::fputs("kata-sentry rules: not built yet\n", stderr);
  return 1;
}

}  // namespace kata_sentry::cli
