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
  return t;
}

std::string OutputTemplate::render(const EvalInput& in) const {
  std::string out;
  for (const auto& s : segments_) {
    if (!s.field) {
      out += s.literal;
      continue;
    }
    auto v = field_text(*s.field, in);
    out += v ? *v : "<NA>";
  }
  return out;
}

nlohmann::ordered_json OutputTemplate::fields(const EvalInput& in) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& s : segments_) {
    if (!s.field || j.contains(s.field->text)) continue;
    auto v = field_text(*s.field, in);
    if (!v) {
      j[s.field->text] = nullptr;
    } else if (s.field->type() == FieldType::number) {
      j[s.field->text] = std::stoll(*v);
    } else if (s.field->type() == FieldType::boolean) {
      j[s.field->text] = *v == "true";
    } else {
      j[s.field->text] = *v;
    }
  }
  return j;
}

}  // namespace kata_sentry::policy
