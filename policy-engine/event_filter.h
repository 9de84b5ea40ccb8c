// A condition on its own, outside a rules file: what `kata-trace events --filter` sends to
// kata-sentryd, which compiles it here once and evaluates it for every event before the event
// reaches that subscriber's queue (server-side filtering). The language is Falco's condition
// language as rules use it (fields, operators, transformers, inline lists); there are no named
// macros or lists, since a filter belongs to no rules file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/result.h"
#include "policy-engine/compile.h"
#include "policy-engine/condition.h"

namespace kata_sentry::policy {

class EventFilter {
 public:
  // Fails (invalid_argument) with every problem found, each located as
  // "<origin>:1:<column>: <message>" (one line per problem), e.g.
  // "filter:1:1: unknown field 'proc.nmae'". Never half-compiled.
  static Result<EventFilter> compile(std::string_view text, std::string_view origin = "filter");

  // Safe to call from several threads at once (evaluation nodes are immutable).
  bool matches(const Event& event) const noexcept;
  const std::string& text() const { return source_->text; }

 private:
  // The AST points into `source_` for error positions; keep both alive with the node.
  std::shared_ptr<const SourceText> source_;
  AstPtr ast_;
  std::shared_ptr<const Node> node_;
  TypeSet types_;
};

}  // namespace kata_sentry::policy
