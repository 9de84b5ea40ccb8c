#include "policy-engine/field_filters.h"

#include <unordered_map>

namespace kata_sentry::policy {
namespace {

enum class Dim { path, comm };

size_t max_text(Dim d) { return d == Dim::path ? kFilterPathText : kFilterCommText; }

// A glob's literal head: every match starts with it.
std::string glob_head(const std::string& pattern) {
  return pattern.substr(0, pattern.find_first_of("*?[\\"));
}

// What a path with this directory (fd.directory) starts with.
std::string directory_prefix(std::string d) {
  while (!d.empty() && d.back() == '/') d.pop_back();
  return d + "/";
}

// The matches a check on the dimension's field names, for events of type t; nullopt when it
// is no such check (or one whose values say nothing usable).
StringMatches check_matches(const Ast& a, Dim d, EventType t) {
  if (!a.lhs.field.info || !a.lhs.transformers.empty() || a.rhs_field) return std::nullopt;
  std::string_view name = a.lhs.field.info->name;
  bool directory = false;
  if (d == Dim::comm) {
    if (name != "proc.name") return std::nullopt;
  } else if (name == "fd.name" || name == "fd.nameraw" || name == "fd.directory") {
    if (!fd_name_is_path(t)) return std::nullopt;  // a socket's fd.name is its peer address
    directory = name == "fd.directory";
  } else if (name != "evt.arg" || !event_arg_is_path(a.lhs.field, t)) {
    return std::nullopt;
  }
  std::set<StringMatch> out;
  for (const auto& v : a.values) {
    switch (a.op) {
      case Op::eq: case Op::in:
        out.insert(directory ? StringMatch{directory_prefix(v), true} : StringMatch{v, false});
        break;
      case Op::startswith:
        out.insert({v, true});  // a directory is a prefix of its path
        break;
      case Op::pmatch: {
        std::string p = v;
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        out.insert({p, true});
        break;
      }
      case Op::glob:
        out.insert({glob_head(v), true});
        break;
      default:
        return std::nullopt;
    }
  }
  return bounded(std::move(out), max_text(d));
}

class Walker {
 public:
  Walker(Dim d, EventType t) : d_(d), t_(t) {}

  StringMatches necessary(const Ast& a) {
    switch (a.kind) {
      case Ast::Kind::constant:
        return a.constant ? StringMatches{} : StringMatches{std::set<StringMatch>{}};
      case Ast::Kind::check:
        return check_matches(a, d_, t_);
      case Ast::Kind::and_: {
        StringMatches best;
        for (const auto& k : a.kids) {
          StringMatches m = necessary(*k);
          if (m && (!best || m->size() < best->size())) best = std::move(m);
        }
        return best;
      }
      case Ast::Kind::or_: {
        StringMatches all = std::set<StringMatch>{};
        for (const auto& k : a.kids) {
          if (!can_match_type(*k)) continue;  // this alternative never sees the type
          all = unite(all, necessary(*k), max_text(d_));
          if (!all) return all;
        }
        return all;
      }
      case Ast::Kind::not_:
        return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  bool can_match_type(const Ast& a) {
    auto it = types_.find(&a);
    if (it == types_.end()) it = types_.emplace(&a, condition_types(a)).first;
    return it->second.test(static_cast<size_t>(t_));
  }

  Dim d_;
  EventType t_;
  std::unordered_map<const Ast*, TypeSet> types_;
};

// An empty set would tell the kernel to drop every event of the type: the analysis found a
// condition that cannot match, which the engine's own index already knows; no condition then.
StringMatches usable(StringMatches m) { return m && m->empty() ? std::nullopt : m; }

}  // namespace

FieldFilters condition_field_filters(const Ast& ast, const TypeSet& types) {
  FieldFilters out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (!types.test(i)) continue;
    auto t = static_cast<EventType>(i);
    TypeFieldFilter f{usable(Walker(Dim::path, t).necessary(ast)), usable(Walker(Dim::comm, t).necessary(ast))};
    if (f.path || f.comm) out[t] = std::move(f);
  }
  return out;
}

FieldFilters field_filters_needed(const RuleSet& rules, ViewSet views) {
  TypeMask seen;
  FieldFilters acc;
  auto add = [&](const TypeSet& types, const FieldFilters& f) {
    acc = unite(seen, acc, types, f);
    seen |= types;
  };
  // The same contributors as types_needed(): what the engine's index looks up.
  for (const auto& r : rules.rules)
    if (r.enabled && (r.views & views).any()) add(r.types, r.fields);
  for (const auto& s : rules.sequences) {
    if (!s.enabled) continue;
    for (const auto& step : s.steps) {
      if ((step.views & views).none()) continue;
      add(step.types, step.fields);
      if (step.rule_index >= 0 && static_cast<size_t>(step.rule_index) < rules.rules.size()) {
        const Rule& r = rules.rules[static_cast<size_t>(step.rule_index)];
        add(r.types, r.fields);
      }
    }
  }
  return acc;
}

}  // namespace kata_sentry::policy
