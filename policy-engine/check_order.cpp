#include "policy-engine/check_order.h"

#include <algorithm>

namespace kata_sentry::policy {
namespace {

// Never certain either way: a guess of 0 or 1 would make a rank divide by zero.
double clamp_p(double p) { return std::clamp(p, 0.02, 0.98); }

double check_cost(const Ast& a) {
  const FieldRef& f = a.lhs.field;
  if (!f.info) return 5;
  if (f.info->type == FieldType::evttype) return 1;
  double c = f.type() == FieldType::string ? 3 : 2;
  if (f.any_ancestor() || !a.lhs.transformers.empty() || a.rhs_field) c += 6;
  if (f.text == "proc.cmdline" || f.text == "proc.args" || f.text == "proc.pcmdline" || f.text == "evt.args" ||
      f.text.starts_with("evt.arg"))
    c += 3;  // built per event
  if (a.op == Op::regex || a.op == Op::glob) c += 4;
  return c;
}

// How often a single check holds. Matching a literal (=, in, startswith, ...) singles out
// a few values of a field and is usually false; its negation, a range or a bool is not.
double check_p_true(const Ast& a) {
  const FieldRef& f = a.lhs.field;
  if (f.info && f.info->type == FieldType::evttype) return 0.5;
  bool boolean = f.info && f.type() == FieldType::boolean;
  switch (a.op) {
    case Op::eq: return boolean ? 0.5 : 0.1;
    case Op::ne: return boolean ? 0.5 : 0.9;
    case Op::lt: case Op::le: case Op::gt: case Op::ge: return 0.5;
    case Op::exists: return 0.9;
    default: return 0.1;  // contains, startswith, in, pmatch, glob, regex, ...
  }
}

// Expected cost and truth of operands evaluated in this order until the short circuit.
CheckEstimate combine(const std::vector<AstPtr>& operands, bool is_and) {
  CheckEstimate total{0, is_and ? 1.0 : 0.0};
  double reach = 1;  // probability that evaluation gets to the next operand
  for (const auto& o : operands) {
    CheckEstimate e = estimate(*o);
    total.cost += reach * e.cost;
    if (is_and) {
      total.p_true *= e.p_true;
      reach *= e.p_true;
    } else {
      total.p_true = 1 - (1 - total.p_true) * (1 - e.p_true);
      reach *= 1 - e.p_true;
    }
  }
  total.p_true = clamp_p(total.p_true);
  return total;
}

}  // namespace

CheckEstimate estimate(const Ast& a) {
  switch (a.kind) {
    case Ast::Kind::constant: return {0, a.constant ? 0.98 : 0.02};
    case Ast::Kind::not_: {
      CheckEstimate e = estimate(*a.kids[0]);
      return {e.cost, clamp_p(1 - e.p_true)};
    }
    case Ast::Kind::and_: return combine(a.kids, true);
    case Ast::Kind::or_: return combine(a.kids, false);
    case Ast::Kind::check: break;
  }
  return {check_cost(a), clamp_p(check_p_true(a))};
}

void order_operands(std::vector<AstPtr>& operands, bool is_and) {
  std::vector<std::pair<double, AstPtr>> ranked;
  ranked.reserve(operands.size());
  for (auto& o : operands) {
    CheckEstimate e = estimate(*o);
    double stops = is_and ? 1 - e.p_true : e.p_true;  // chance this operand ends the evaluation
    ranked.emplace_back(e.cost / stops, std::move(o));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (size_t i = 0; i < ranked.size(); ++i) operands[i] = std::move(ranked[i].second);
}

}  // namespace kata_sentry::policy
