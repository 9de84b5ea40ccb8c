#include "core/field_filters.h"

#include <vector>

namespace kata_sentry {

StringMatches bounded(StringMatches m, size_t max_text) {
  if (!m) return m;
  std::set<StringMatch> cut;
  for (const auto& s : *m) {
    if (fits_kernel_text(s, max_text))
      cut.insert(s);
    else
      cut.insert({s.text.substr(0, max_text), true});
  }
  std::set<StringMatch> kept;
  for (const auto& s : cut) {
    if (s.prefix && s.text.empty()) return std::nullopt;  // everything passes
    // Another entry's prefix lets through everything this one does.
    bool redundant = false;
    for (const auto& o : cut)
      if (o.prefix && !(o == s) && s.text.starts_with(o.text)) redundant = true;
    if (!redundant) kept.insert(s);
  }
  if (kept.size() > kFilterMaxPerField) return std::nullopt;
  return kept;
}

StringMatches unite(const StringMatches& a, const StringMatches& b, size_t max_text) {
  if (!a || !b) return std::nullopt;
  std::set<StringMatch> all = *a;
  all.insert(b->begin(), b->end());
  return bounded(std::move(all), max_text);
}

FieldFilters unite(const TypeMask& a_types, const FieldFilters& a, const TypeMask& b_types, const FieldFilters& b) {
  FieldFilters out;
  for (size_t i = 0; i < kEventTypeSlots; ++i) {
    bool in_a = a_types.test(i), in_b = b_types.test(i);
    if (!in_a && !in_b) continue;
    auto t = static_cast<EventType>(i);
    auto ia = a.find(t), ib = b.find(t);
    if ((in_a && ia == a.end()) || (in_b && ib == b.end())) continue;  // one has no condition
    TypeFieldFilter f;
    if (in_a && in_b) {
      f.path = unite(ia->second.path, ib->second.path, kFilterPathText);
      f.comm = unite(ia->second.comm, ib->second.comm, kFilterCommText);
    } else {
      f = in_a ? ia->second : ib->second;
    }
    if (f.path || f.comm) out[t] = std::move(f);
  }
  return out;
}

bool passes(const StringMatches& m, std::string_view value) {
  if (!m) return true;
  for (const auto& s : *m)
    if (s.prefix ? value.starts_with(s.text) : value == s.text) return true;
  return false;
}

std::string describe_field_filters(const FieldFilters& f) {
  auto list = [](const StringMatches& m) {
    std::string s;
    for (const auto& e : *m) s += (s.empty() ? "" : ",") + e.text + (e.prefix ? "*" : "");
    return s;
  };
  std::string out;
  for (const auto& [type, tf] : f) {
    if (!out.empty()) out += "; ";
    out += std::string(event_type_name(type));
    if (tf.path) out += " path=" + list(tf.path);
    if (tf.comm) out += " comm=" + list(tf.comm);
  }
  return out;
}

}  // namespace kata_sentry
