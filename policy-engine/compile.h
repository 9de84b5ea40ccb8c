// Turns a condition AST into a tree of typed evaluation nodes: literal lists become hash
// sets, regexes are compiled once (RE2), CIDRs parsed once, evt.type checks become bit
// tests. Evaluation never parses or allocates for the common cases.
#pragma once

#include <memory>

#include "core/result.h"
#include "policy-engine/check_memo.h"
#include "policy-engine/condition.h"

namespace kata_sentry::policy {

class Node {
 public:
  virtual ~Node() = default;
  // noexcept: nothing on the event path throws.
  virtual bool eval(const EvalInput& in) const noexcept = 0;
};
using NodePtr = std::unique_ptr<const Node>;

// Fails (invalid_argument) when a literal does not fit its field ("abc" for user.uid,
// a bad regex, a bad CIDR); the message names the check, and `offset` where it is.
struct CompileError {
  size_t offset = 0;
  const SourceText* source = nullptr;
  std::string message;
};
// `context`: the event types the node will ever see (the rule's index entries); type
// checks that the index already decides are folded away, nested and/or are flattened,
// and an and/or runs first the checks most likely to decide it cheaply (check_order.h).
// `shared`: the rule set's registry of twin checks (check_memo.h), or null for a condition
// evaluated on its own.
std::expected<NodePtr, CompileError> compile_condition(const Ast& ast, const TypeSet& context = all_types(),
                                                       SharedChecks* shared = nullptr);

}  // namespace kata_sentry::policy
