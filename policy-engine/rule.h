// A loaded rule set: rules, sequence rules, and what they need at evaluation time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/field_filters.h"
#include "policy-engine/compile.h"
#include "policy-engine/enforcement_spec.h"
#include "policy-engine/output.h"
#include "policy-engine/view_index.h"

namespace kata_sentry::policy {

// Falco's eight levels, most severe first.
enum class Priority : uint8_t { emergency, alert, critical, error, warning, notice, informational, debug };
std::optional<Priority> priority_from_name(std::string_view name);  // case-insensitive; "info" too
std::string_view priority_name(Priority p);                         // Falco's JSON form: "Warning"

enum class Action : uint8_t { alert, deny, kill, kill_sandbox };
std::optional<Action> action_from_name(std::string_view name);
std::string_view action_name(Action a);

struct Rule {
  std::string name;
  std::string desc;
  std::string condition;  // as loaded (after append/override and exceptions)
  std::shared_ptr<const Node> node;
  TypeSet types;          // event types it can match (the index)
  ViewSet views = all_views();  // views it can match (the index's second key)
  FieldFilters fields;          // per type, what it needs of path and comm (field_filters.h)
  OutputTemplate output;
  Priority priority = Priority::warning;
  std::vector<std::string> tags;
  std::string source = "syscall";
  bool enabled = true;
  Action action = Action::alert;
  std::vector<EnforcementSpec> enforcement;  // action: deny: one per alternative of the condition
  SourcePos pos;
  std::string file;
};

struct SequenceStep {
  std::string rule;  // a named rule matched this event, or
  std::shared_ptr<const Node> condition;  // this condition holds
  std::string condition_text;
  int rule_index = -1;
  TypeSet types;
  ViewSet views = all_views();  // views its events can come from (the named rule's, or the condition's)
  FieldFilters fields;          // as Rule::fields (the named rule's, or the condition's)
};

struct Sequence {
  std::string name;
  std::string desc;
  std::vector<FieldRef> by;     // the key; default sandbox.id
  uint64_t within_ns = 0;
  std::vector<SequenceStep> steps;
  OutputTemplate output;
  Priority priority = Priority::warning;
  std::vector<std::string> tags;
  bool enabled = true;
  Action action = Action::alert;
  TypeSet types;                // union of the steps'
  SourcePos pos;
  std::string file;
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<Sequence> sequences;
  size_t macro_count = 0;
  size_t list_count = 0;
  size_t skipped_rules = 0;      // left out for an unknown field (skip-if-unknown-filter, LoadOptions)
  size_t skipped_sequences = 0;  // left out with them: a step's rule or condition has such a field
  // Checks several conditions share: the engine's CheckMemo size. The slots are numbered per
  // load, so rules of two loads must not be mixed into one set (their slots would collide).
  uint32_t shared_check_slots = 0;
};

}  // namespace kata_sentry::policy
