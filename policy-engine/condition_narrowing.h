// What a condition can match along one dimension (event types, views), read off its tree:
// `and` intersects, `or` unites, `not` complements a pure check on the dimension's field, and
// anything else matches everything. condition_types (evt.type) and condition_views (view)
// are this walk with their own field and name lookup.
#pragma once

#include <optional>
#include <string>

#include "policy-engine/condition.h"

namespace kata_sentry::policy {

// The set a pure check on the dimension's field matches (=, !=, in, intersects, exists);
// nullopt when `a` is no such check. `on_field(FieldInfo)` says whether the check's field is the
// dimension's; `from_name(value)` maps a value to its slot (nullopt: matches nothing).
template <typename Set, typename OnField, typename FromName>
std::optional<Set> pure_check(const Ast& a, const Set& all, OnField on_field, FromName from_name) {
  if (a.kind != Ast::Kind::check || !a.lhs.field.info || !on_field(*a.lhs.field.info) || !a.lhs.transformers.empty() ||
      a.rhs_field)
    return std::nullopt;
  Set named;
  for (const auto& v : a.values)
    if (auto slot = from_name(v)) named.set(static_cast<size_t>(*slot));
  switch (a.op) {
    case Op::eq: case Op::in: case Op::intersects: return named;
    case Op::ne: return all & ~named;
    case Op::exists: return all;
    default: return std::nullopt;  // startswith, glob, ...: left to the condition
  }
}

// `check(ast)` is the dimension's pure_check.
template <typename Set, typename Check>
Set narrow_condition(const Ast& a, const Set& all, const Check& check) {
  switch (a.kind) {
    case Ast::Kind::constant: return a.constant ? all : Set{};
    case Ast::Kind::check: return check(a).value_or(all);
    case Ast::Kind::and_: {
      Set s = all;
      for (const auto& k : a.kids) s &= narrow_condition(*k, all, check);
      return s;
    }
    case Ast::Kind::or_: {
      Set s;
      for (const auto& k : a.kids) s |= narrow_condition(*k, all, check);
      return s;
    }
    case Ast::Kind::not_: {
      const Ast& k = *a.kids[0];
      if (auto s = check(k)) return all & ~*s;
      if (k.kind == Ast::Kind::not_) return narrow_condition(*k.kids[0], all, check);
      return all;
    }
  }
  return all;
}

}  // namespace kata_sentry::policy
