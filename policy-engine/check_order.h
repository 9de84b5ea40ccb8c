// The order in which an and/or evaluates its operands. Conditions are pure (no side
// effects, an absent value is just false), so any order gives the same answer; what changes
// is how soon the short circuit stops. Rules are mostly `and`s of a few selective checks
// (fd.name in (...), proc.name = x) and many exclusions (not proc.name in (...)) that are
// nearly always true: running the likely-false checks first skips the exclusions on most
// events.
#pragma once

#include <vector>

#include "policy-engine/condition.h"

namespace kata_sentry::policy {

// A guess at what evaluating a (sub)condition costs (arbitrary units: a numeric field
// compare is about 2) and how often it holds on ordinary traffic.
struct CheckEstimate {
  double cost = 0;
  double p_true = 0.5;
};
CheckEstimate estimate(const Ast& a);

// Orders the operands of an `and` (is_and) or an `or` so the expected cost of the short
// circuit is least: `and` by cost / P(false), `or` by cost / P(true). Stable for ties, so
// operands with the same estimate keep their written order.
void order_operands(std::vector<AstPtr>& operands, bool is_and);

}  // namespace kata_sentry::policy
