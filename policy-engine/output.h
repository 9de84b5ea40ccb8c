// A rule's output template: "Shell spawned (user=%user.name parent=%proc.pname)",
// parsed once into literal text and resolved fields.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "policy-engine/fields.h"

namespace kata_sentry::policy {

class OutputTemplate {
 public:
  // Fails naming the first unknown %field; `offset` tells where in `text`.
  static std::expected<OutputTemplate, std::pair<size_t, std::string>> parse(std::string_view text);

  // Absent values render as <NA>, as Falco does.
  std::string render(const EvalInput& in) const;
  // Falco's output_fields: {"proc.name": "sh", "user.uid": 0, "proc.tty": null}.
  nlohmann::ordered_json fields(const EvalInput& in) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    std::string literal;
    std::optional<FieldRef> field;
  };
  std::string text_;
  std::vector<Segment> segments_;
  // Segments whose field is named first there: output_fields has each field once, decided at
  // parse time rather than by a search of the JSON object per alert.
  std::vector<size_t> first_mentions_;
};

}  // namespace kata_sentry::policy
