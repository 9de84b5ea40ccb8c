#include "policy-engine/view_index.h"

#include "policy-engine/condition_narrowing.h"

namespace kata_sentry::policy {
namespace {

// The views a check on the `view` field matches; nullopt for any other check.
std::optional<ViewSet> view_check(const Ast& a) {
  return pure_check(a, all_views(), [](const FieldInfo& f) { return f.name == "view"; },
                    [](const std::string& name) { return view_from_name(name); });
}

}  // namespace

ViewSet condition_views(const Ast& a) { return narrow_condition(a, all_views(), view_check); }

}  // namespace kata_sentry::policy
