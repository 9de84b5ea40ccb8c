#include "policy-engine/view_index.h"

namespace kata_sentry::policy {
namespace {

// The views a check on the `view` field matches; nullopt for any other check.
std::optional<ViewSet> view_check(const Ast& a) {
  if (a.kind != Ast::Kind::check || !a.lhs.field.info || a.lhs.field.info->name != "view" ||
      !a.lhs.transformers.empty() || a.rhs_field)
    return std::nullopt;
  ViewSet named;
  for (const auto& v : a.values)
    if (auto view = view_from_name(v)) named.set(static_cast<size_t>(*view));
  switch (a.op) {
    case Op::eq: case Op::in: case Op::intersects: return named;
    case Op::ne: return all_views() & ~named;
    case Op::exists: return all_views();
    default: return std::nullopt;  // startswith, glob, ...: left to the condition
  }
}

}  // namespace

ViewSet condition_views(const Ast& a) {
  switch (a.kind) {
    case Ast::Kind::constant: return a.constant ? all_views() : ViewSet{};
    case Ast::Kind::check: return view_check(a).value_or(all_views());
    case Ast::Kind::and_: {
      ViewSet s = all_views();
      for (const auto& k : a.kids) s &= condition_views(*k);
      return s;
    }
    case Ast::Kind::or_: {
      ViewSet s;
      for (const auto& k : a.kids) s |= condition_views(*k);
      return s;
    }
    case Ast::Kind::not_: {
      const Ast& k = *a.kids[0];
      if (auto v = view_check(k)) return all_views() & ~*v;
      if (k.kind == Ast::Kind::not_) return condition_views(*k.kids[0]);
      return all_views();
    }
  }
  return all_views();
}

}  // namespace kata_sentry::policy
