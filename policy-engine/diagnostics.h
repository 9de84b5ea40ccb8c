// Errors and warnings found while loading rules. Loading collects every one of them,
// each with file:line:column, and prints them for people or as JSON.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kata_sentry::policy {

struct SourcePos {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
};

enum class Severity { error, warning };

struct Diagnostic {
  Severity severity = Severity::error;
  SourcePos pos;
  std::string object;   // "rule 'Run shell untrusted'", "macro 'container'", "" for the file
  std::string message;  // "unknown field 'proc.nmae'"

  // "file:line:col: error: rule 'X': message"
  std::string to_text() const;
  nlohmann::json to_json() const;
};

class Diagnostics {
 public:
  void error(SourcePos pos, std::string object, std::string message) {
    items_.push_back({Severity::error, std::move(pos), std::move(object), std::move(message)});
  }
  void warning(SourcePos pos, std::string object, std::string message) {
    items_.push_back({Severity::warning, std::move(pos), std::move(object), std::move(message)});
  }
  bool has_errors() const;
  size_t error_count() const;
  size_t warning_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  void append(const Diagnostics& other) { items_.insert(items_.end(), other.items_.begin(), other.items_.end()); }

 private:
  std::vector<Diagnostic> items_;
};

// A condition's text with the file position of each of its characters, so that an error
// at offset N inside a (possibly folded, possibly appended) condition names its line and
// column in the file.
struct SourceText {
  std::string text;
  std::vector<SourcePos> positions;  // one per char of text (may be shorter: then the last)

  SourcePos at(size_t offset) const;
  // Appends with a separating space, as Falco does for `append` and `override: append`.
  void append(const SourceText& more);
};

}  // namespace kata_sentry::policy
