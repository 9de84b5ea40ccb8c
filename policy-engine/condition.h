// Falco's condition language: parsed once into an AST whose fields are already resolved
// (fields.h). Macros are inlined as shared sub-trees and list names expanded, so the AST
// is self-contained; compile.h turns it into evaluation nodes.
//
// Grammar (Falco's): or_expr := and_expr {"or" and_expr}; and_expr := not_expr {"and"
// not_expr}; not_expr := "not" not_expr | primary; primary := "(" or_expr ")" | macro |
// check; check := field [op value | listop "(" items ")" | "exists"];
// field := [transformer "("] name ["[" arg "]"] [")"].
#pragma once

#include <bitset>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy-engine/diagnostics.h"
#include "policy-engine/fields.h"

namespace kata_sentry::policy {

enum class Op : uint8_t {
  eq, ne, lt, le, gt, ge,
  contains, icontains, bcontains, startswith, bstartswith, endswith,
  in, intersects, pmatch, glob, regex, exists,
};
std::string_view op_name(Op op);

enum class Transformer : uint8_t { tolower, toupper, b64, basename };

struct Ast;
using AstPtr = std::shared_ptr<const Ast>;

struct Operand {
  FieldRef field;
  std::vector<Transformer> transformers;  // innermost first
};

struct Ast {
  enum class Kind : uint8_t { and_, or_, not_, check, constant } kind = Kind::constant;
  std::vector<AstPtr> kids;
  // check
  Operand lhs;
  Op op = Op::exists;
  std::vector<std::string> values;      // literal(s); lists already expanded
  std::optional<Operand> rhs_field;     // val(field)
  size_t offset = 0;                    // of the check in its own source text
  const SourceText* source = nullptr;   // that text (rule's, macro's), for error positions
  bool constant = false;                // Kind::constant
};

// What the parser needs to know about the rules file: lists and earlier macros.
struct ParseContext {
  // Items of a list by name (already expanded), or nullptr.
  std::function<const std::vector<std::string>*(std::string_view)> find_list;
  // The parsed condition of a visible macro, or nullptr (undefined, or defined later).
  std::function<AstPtr(std::string_view)> find_macro;
  const SourceText* source = nullptr;  // copied into each check for later error positions
};

struct ParseError {
  size_t offset = 0;
  std::string message;
};

struct ParseResult {
  AstPtr ast;                       // null when a syntax error stopped the parse
  std::vector<ParseError> errors;   // every problem found (unknown fields, macros, syntax)
  std::vector<ParseError> warnings; // e.g. evt.type values no probe produces
};

ParseResult parse_condition(std::string_view text, const ParseContext& ctx);

// Event types a condition can match, as a bit set over EventType values (Falco's
// evt.type indexing: and = intersection, or = union, not = complement of pure type checks).
using TypeSet = std::bitset<kEventTypeSlots>;
TypeSet condition_types(const Ast& ast);
TypeSet all_types();
// The types a pure evt.type check (=, !=, in) matches; nullopt for any other node.
std::optional<TypeSet> type_check(const Ast& a);

// Falco names kata-sentry's probes fold into one type (symlink → symlinkat, dup2 → dup...).
std::optional<EventType> event_type_for_falco_name(std::string_view name);

}  // namespace kata_sentry::policy
