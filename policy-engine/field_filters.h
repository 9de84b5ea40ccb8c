// The path and comm half of in-kernel filtering (core/field_filters.h): per event type, what
// every rule that can match it requires of the record's path (fd.name, fd.directory, the
// type's path argument) and comm (proc.name). Read off each condition's tree at load time:
//   - a check `fd.name = / in / startswith / pmatch / glob`, `fd.directory = / in` (the path
//     then starts with "D/"), `proc.name = / in / startswith` names its values;
//   - `and`: any conjunct's condition is necessary (the one with fewest entries is kept);
//   - `or`: the union of the alternatives that can match the type (none if one has none);
//   - `not`, other fields and operators, transformers: no condition.
// Exceptions are `and not (...)` in the loaded condition, so they narrow nothing here: right,
// since they only ever remove matches. Over-approximating is always safe; the kernel only
// drops an event no rule could match.
#pragma once

#include "core/field_filters.h"
#include "policy-engine/condition.h"
#include "policy-engine/rule.h"
#include "policy-engine/view_index.h"

namespace kata_sentry::policy {

// Per type of `types`: the condition's necessary path and comm matches (types with neither
// have no entry). Pure; never fails.
FieldFilters condition_field_filters(const Ast& ast, const TypeSet& types);

// The filter for a whole rule set (what types_needed() is for types): per type, the union of
// the conditions of every enabled rule and sequence step of `views` that can match it. A type
// some rule matches without a path (comm) condition has none. Pure; never fails.
FieldFilters field_filters_needed(const RuleSet& rules, ViewSet views = all_views());

}  // namespace kata_sentry::policy
