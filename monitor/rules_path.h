// Finding and loading the rules `kata-sentry run` evaluates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "policy-engine/engine.h"

namespace kata_sentry::monitor {

// The project's default rules directory: <bin>/../share/kata-sentry/rules when installed,
// else the source tree's rules/ (the build tree case). Fails when neither exists.
Result<std::string> default_rules_dir();

// Loads FILE|DIR paths into an engine. Fails with every diagnostic (file:line:column) when any
// rule has an error: nothing is half-loaded.
Result<std::unique_ptr<policy::Engine>> load_engine(const std::vector<std::string>& paths, policy::Mode mode);

}  // namespace kata_sentry::monitor
