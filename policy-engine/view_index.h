// Which views (host, guest) a condition can match: the engine's index is by event type and
// view, so a guest event is never offered a rule that begins `view = host` (the VMM rules),
// nor a host event the dozen guest rules. Like the type analysis, an over-approximation:
// only pure `view` checks narrow the set (the field is always present, so `not view = host`
// is the guest).
#pragma once

#include <bitset>

#include "policy-engine/condition.h"

namespace kata_sentry::policy {

using ViewSet = std::bitset<2>;  // bit static_cast<size_t>(View::host) / View::guest
inline ViewSet all_views() { return ViewSet{}.set(); }
inline ViewSet only_view(View v) { return ViewSet{}.set(static_cast<size_t>(v)); }

ViewSet condition_views(const Ast& ast);

}  // namespace kata_sentry::policy
