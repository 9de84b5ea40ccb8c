#include "wanted_types_convert.h"

#include <string>

namespace kata_sentry {

void wanted_types_to_proto(const WireTypeSet& types, v1::SetWantedTypesRequest& out) {
  out.Clear();
  if (types.all()) {
    out.set_all(true);
    return;
  }
  for (size_t t = 0; t < types.size(); ++t)
    if (types.test(t)) out.add_types(static_cast<uint32_t>(t));
}

Result<WireTypeSet> wanted_types_from_proto(const v1::SetWantedTypesRequest& msg) {
  WireTypeSet set;
  if (msg.all()) return set.set();
  if (static_cast<size_t>(msg.types_size()) > set.size())
    return fail(ErrorCode::invalid_argument,
                "SetWantedTypes: " + std::to_string(msg.types_size()) + " types, at most " + std::to_string(set.size()));
  for (uint32_t t : msg.types()) {
    if (t >= set.size())
      return fail(ErrorCode::invalid_argument,
                  "SetWantedTypes: event type " + std::to_string(t) + " is out of range (< " + std::to_string(set.size()) + ")");
    set.set(t);
  }
  return set;
}

void field_filters_to_proto(const FieldFilters& filters, v1::SetWantedTypesRequest& out) {
  out.clear_field_filters();
  auto add = [](const std::set<StringMatch>& m, auto* list) {
    for (const auto& s : m) {
      auto* e = list->Add();
      e->set_text(s.text);
      e->set_prefix(s.prefix);
    }
  };
  for (const auto& [type, f] : filters) {
    if (!f.path && !f.comm) continue;
    auto* t = out.add_field_filters();
    t->set_type(static_cast<uint32_t>(type));
    if (f.path) add(*f.path, t->mutable_path());
    if (f.comm) add(*f.comm, t->mutable_comm());
  }
}

Result<FieldFilters> field_filters_from_proto(const v1::SetWantedTypesRequest& msg) {
  FieldFilters out;
  auto bad = [](uint32_t type, const std::string& what) {
    return fail(ErrorCode::invalid_argument, "SetWantedTypes: field filter of event type " + std::to_string(type) + ": " + what);
  };
  auto read = [&](uint32_t type, const auto& list, size_t max_text, const char* field) -> Result<StringMatches> {
    if (list.empty()) return StringMatches{};
    if (static_cast<size_t>(list.size()) > kFilterMaxPerField)
      return bad(type, std::string(field) + " has " + std::to_string(list.size()) + " entries, at most " +
                           std::to_string(kFilterMaxPerField));
    std::set<StringMatch> m;
    for (const auto& e : list) {
      StringMatch s{e.text(), e.prefix()};
      if (!fits_kernel_text(s, max_text))
        return bad(type, std::string(field) + " entry of " + std::to_string(e.text().size()) + " bytes is too long");
      if (s.prefix && s.text.empty()) return StringMatches{};  // lets everything through
      m.insert(std::move(s));
    }
    return StringMatches{std::move(m)};
  };
  for (const auto& t : msg.field_filters()) {
    if (t.type() >= kEventTypeSlots) return bad(t.type(), "out of range");
    auto type = static_cast<EventType>(t.type());
    if (out.count(type)) return bad(t.type(), "listed twice");
    auto path = read(t.type(), t.path(), kFilterPathText, "path");
    if (!path) return std::unexpected(path.error());
    auto comm = read(t.type(), t.comm(), kFilterCommText, "comm");
    if (!comm) return std::unexpected(comm.error());
    if (*path || *comm) out[type] = TypeFieldFilter{std::move(*path), std::move(*comm)};
  }
  return out;
}

}  // namespace kata_sentry
