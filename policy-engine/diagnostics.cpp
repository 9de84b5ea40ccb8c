#include "policy-engine/diagnostics.h"

#include <algorithm>

namespace kata_sentry::policy {

std::string Diagnostic::to_text() const {
  std::string out = pos.file.empty() ? "<input>" : pos.file;
  if (pos.line > 0) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  out += severity == Severity::error ? ": error: " : ": warning: ";
  if (!object.empty()) out += object + ": ";
  return out + message;
}

nlohmann::json Diagnostic::to_json() const {
  return {{"severity", severity == Severity::error ? "error" : "warning"},
          {"file", pos.file},
          {"line", pos.line},
          {"column", pos.column},
          {"object", object},
          {"message", message}};
}

bool Diagnostics::has_errors() const { return error_count() > 0; }
size_t Diagnostics::error_count() const {
  return std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) { return d.severity == Severity::error; });
}
size_t Diagnostics::warning_count() const { return items_.size() - error_count(); }

SourcePos SourceText::at(size_t offset) const {
  if (positions.empty()) return {};
  return positions[std::min(offset, positions.size() - 1)];
}

void SourceText::append(const SourceText& more) {
  SourcePos sep = positions.empty() ? more.at(0) : positions.back();
  if (!text.empty()) {
    text += ' ';
    positions.push_back(sep);
  }
  text += more.text;
  positions.insert(positions.end(), more.positions.begin(), more.positions.end());
  positions.resize(text.size(), sep);
}

}  // namespace kata_sentry::policy
