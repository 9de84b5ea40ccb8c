// Shared helpers for the policy tests: load rules from text or files, run events.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy-engine/engine.h"
#include "policy-engine/loader.h"
#include "tests/support/event_builder.h"

namespace kata_sentry::policy::test {

using kata_sentry::testing::EventBuilder;

inline LoadResult load_text(const std::string& yaml, const std::string& name = "test.yaml") {
  return load_rules({{name, yaml}});
}

inline std::string diagnostics_text(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics.items()) out += d.to_text() + "\n";
  return out;
}

inline std::vector<RuleSource> sources_or_die(const std::vector<std::string>& paths) {
  auto s = read_rule_sources(paths);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().describe());
  return s ? *s : std::vector<RuleSource>{};
}

// An engine over the given YAML; fails the test on any load error.
inline Engine engine_for(const std::string& yaml, EngineConfig cfg = {}) {
  auto r = load_text(yaml);
  EXPECT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  return Engine(std::move(r.rules), cfg);
}

// Names of the rules an event fires.
inline std::vector<std::string> fired(Engine& e, const Event& ev, const Enrichment* extra = nullptr) {
  std::vector<Alert> alerts;
  e.process(ev, extra, alerts);
  std::vector<std::string> names;
  for (const auto& a : alerts) names.push_back(a.rule);
  return names;
}

inline bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A one-rule file around `condition` (event types free), for operator tests.
inline std::string one_rule(const std::string& condition, const std::string& extra_items = "") {
  std::string quoted;  // YAML single-quoted: '' is a quote
  for (char c : condition) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return extra_items + "- rule: R\n  desc: d\n  condition: '" + quoted + "'\n  output: o\n  priority: INFO\n";
}

}  // namespace kata_sentry::policy::test
