#include "policy-engine/output.h"

#include <cctype>

namespace kata_sentry::policy {

std::expected<OutputTemplate, std::pair<size_t, std::string>> OutputTemplate::parse(std::string_view text) {
  OutputTemplate t;
  t.text_ = std::string(text);
  std::string literal;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '%') {
      literal += text[i++];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '%') {
      literal += '%';
      i += 2;
      continue;
    }
    size_t start = i + 1, e = start;
    while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_' || text[e] == '.')) ++e;
    while (e > start && text[e - 1] == '.') --e;  // "…%proc.name." ends a sentence
    if (e < text.size() && text[e] == '[') {
      auto close = text.find(']', e);
      if (close != std::string_view::npos) e = close + 1;
    }
    if (e == start) {
      literal += '%';
      ++i;
      continue;
    }
    auto ref = resolve_field(text.substr(start, e - start));
    if (!ref) return std::unexpected(std::pair{i, ref.error().message + " in output"});
    if (!literal.empty()) t.segments_.push_back({std::move(literal), std::nullopt});
    literal.clear();
    t.segments_.push_back({"", std::move(*ref)});
    i = e;
  }
  if (!literal.empty()) t.segments_.push_back({std::move(literal), std::nullopt});
  for (size_t i = 0; i < t.segments_.size(); ++i) {
    if (!t.segments_[i].field) continue;
    bool seen = false;
    for (size_t j : t.first_mentions_) seen |= t.segments_[j].field->text == t.segments_[i].field->text;
    if (!seen) t.first_mentions_.push_back(i);
  }
  return t;
}

namespace {

// A field's value for output (field_text's rules: proc.aname without [N] shows the parent).
// False when absent.
bool output_value(const FieldRef& ref, const EvalInput& in, Value& v) {
  return ref.info->get(in, ref, ref.any_ancestor() ? 1 : ref.index, v);
}

}  // namespace

std::string OutputTemplate::render(const EvalInput& in) const {
  std::string out;
  for (const auto& s : segments_) {
    if (!s.field) {
      out += s.literal;
      continue;
    }
    Value v;
    if (!output_value(*s.field, in, v)) {
      out += "<NA>";
      continue;
    }
    switch (s.field->type()) {
      case FieldType::number: out += std::to_string(v.num); break;
      case FieldType::boolean: out += v.num ? "true" : "false"; break;
      default: out += v.str; break;
    }
  }
  return out;
}

nlohmann::ordered_json OutputTemplate::fields(const EvalInput& in) const {
  nlohmann::ordered_json::object_t obj;
  obj.reserve(first_mentions_.size());
  for (size_t i : first_mentions_) {
    const FieldRef& f = *segments_[i].field;
    Value v;
    nlohmann::ordered_json value;  // null when absent
    if (output_value(f, in, v)) {
      switch (f.type()) {
        case FieldType::number: value = v.num; break;
        case FieldType::boolean: value = v.num != 0; break;
        default: value = std::string(v.str); break;
      }
    }
    // Keys are distinct (first_mentions_), so append without the map's search.
    obj.emplace_back(f.text, std::move(value));
  }
  return nlohmann::ordered_json(std::move(obj));
}

}  // namespace kata_sentry::policy
