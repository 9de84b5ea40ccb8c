#include "policy-engine/wanted_types.h"

namespace kata_sentry::policy {

TypeSet types_needed(const RuleSet& rules, ViewSet views) {
  TypeSet needed;
  // As the engine's index: an enabled rule, or a disabled one a sequence step names (the
  // rule's types are what the engine looks up for the step).
  for (const auto& r : rules.rules)
    if (r.enabled && (r.views & views).any()) needed |= r.types;
  for (const auto& s : rules.sequences) {
    if (!s.enabled) continue;
    for (const auto& step : s.steps) {
      if ((step.views & views).none()) continue;
      needed |= step.types;
      if (step.rule_index >= 0 && static_cast<size_t>(step.rule_index) < rules.rules.size())
        needed |= rules.rules[static_cast<size_t>(step.rule_index)].types;
    }
  }
  return needed;
}

std::string describe_types(const TypeSet& types) {
  if ((types & all_types()) == all_types()) return "all";
  std::string out;
  for (EventType t : all_event_types()) {
    if (!types.test(static_cast<size_t>(t))) continue;
    if (!out.empty()) out += ',';
    out += event_type_name(t);
  }
  return out.empty() ? "none" : out;
}

}  // namespace kata_sentry::policy
