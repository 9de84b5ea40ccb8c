// Loads Falco-format rules files (rules, macros, lists, exceptions, append/override) and
// kata-sentry's `sequence` items. Every problem is collected with file:line:column; when
// there is any error nothing is loaded.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "policy-engine/diagnostics.h"
#include "policy-engine/rule.h"

namespace kata_sentry::policy {

// The Falco engine version whose rule format this loader implements.
inline constexpr std::string_view kEngineVersion = "0.57.0";

struct RuleSource {
  std::string name;     // file path, used in positions
  std::string content;  // YAML text
};

struct FileSummary {
  std::string file;
  size_t rules = 0, macros = 0, lists = 0, sequences = 0;
};

struct LoadResult {
  RuleSet rules;                   // empty when diagnostics has errors
  Diagnostics diagnostics;
  std::vector<FileSummary> files;  // what each file defined
};

struct LoadOptions {
  // Falco's skip-if-unknown-filter for every rule: a rule whose condition (or a macro it uses)
  // names a field kata-sentry does not know is left out with a warning naming the field,
  // instead of failing the load. Other errors still fail it.
  bool skip_unknown_fields = false;
};

LoadResult load_rules(const std::vector<RuleSource>& sources, const LoadOptions& options = {});

// Expands FILE|DIR arguments (a directory: its *.yaml and *.yml, sorted) and reads them.
// Fails naming the path that cannot be read.
Result<std::vector<RuleSource>> read_rule_sources(const std::vector<std::string>& paths);

}  // namespace kata_sentry::policy
