#include "policy-engine/condition.h"
#include "policy-engine/condition_narrowing.h"

#include <cctype>
#include <unordered_map>

namespace kata_sentry::policy {
namespace {

struct OpName {
  std::string_view name;
  Op op;
};
constexpr OpName kWordOps[] = {
    {"contains", Op::contains},     {"icontains", Op::icontains},   {"bcontains", Op::bcontains},
    {"startswith", Op::startswith}, {"bstartswith", Op::bstartswith}, {"endswith", Op::endswith},
    {"in", Op::in},                 {"intersects", Op::intersects}, {"pmatch", Op::pmatch},
    {"glob", Op::glob},             {"regex", Op::regex},           {"exists", Op::exists},
};

bool is_field_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A syntax error ends the parse of one condition; other errors are collected and the
// parse goes on, so one pass reports every unknown field and macro.
struct SyntaxError {
  size_t offset;
  std::string message;
};

class Parser {
 public:
  Parser(std::string_view text, const ParseContext& ctx, ParseResult& result)
      : s_(text), ctx_(ctx), result_(result) {}

  AstPtr parse() {
    AstPtr ast = parse_or();
    skip_ws();
    if (pos_ < s_.size()) {
      if (s_[pos_] == ')') throw SyntaxError{pos_, "unbalanced parenthesis: unexpected ')'"};
      throw SyntaxError{pos_, "unexpected '" + std::string(peek_token()) + "'; expected 'and', 'or' or the end"};
    }
    return ast;
  }

 private:
  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  std::string_view peek_token() const {
    size_t e = pos_;
    while (e < s_.size() && !is_space(s_[e]) && e - pos_ < 32) ++e;
    return s_.substr(pos_, std::max<size_t>(e - pos_, 1));
  }
  // A keyword is a whole word: "and" but not "android".
  bool keyword(std::string_view kw) {
    skip_ws();
    if (s_.substr(pos_, kw.size()) != kw) return false;
    size_t e = pos_ + kw.size();
    if (e < s_.size() && (is_field_char(s_[e]) || s_[e] == '[')) return false;
    pos_ = e;
    return true;
  }

  AstPtr combine(Ast::Kind kind, std::vector<AstPtr> kids) {
    if (kids.size() == 1) return kids[0];
    auto a = std::make_shared<Ast>();
    a->kind = kind;
    a->kids = std::move(kids);
    return a;
  }
  AstPtr parse_or() {
    // Bounded recursion: a hostile file must not overflow the stack.
    Depth guard(depth_);
    if (depth_ > kMaxDepth) throw SyntaxError{pos_, "parentheses nested deeper than " + std::to_string(kMaxDepth)};
    std::vector<AstPtr> kids{parse_and()};
    while (keyword("or")) kids.push_back(parse_and());
    return combine(Ast::Kind::or_, std::move(kids));
  }
  AstPtr parse_and() {
    std::vector<AstPtr> kids{parse_not()};
    while (keyword("and")) kids.push_back(parse_not());
    return combine(Ast::Kind::and_, std::move(kids));
  }
  AstPtr parse_not() {
    if (keyword("not")) {
      Depth guard(depth_);
      if (depth_ > kMaxDepth) throw SyntaxError{pos_, "'not' nested deeper than " + std::to_string(kMaxDepth)};
      auto a = std::make_shared<Ast>();
      a->kind = Ast::Kind::not_;
      a->kids.push_back(parse_not());
      return a;
    }
    return parse_primary();
  }

  AstPtr parse_primary() {
    skip_ws();
    if (pos_ >= s_.size()) throw SyntaxError{pos_, "unexpected end of condition; expected a check, a macro or '('"};
    char c = s_[pos_];
    if (c == '(') {
      size_t open = pos_++;
      AstPtr inner = parse_or();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ')')
        throw SyntaxError{open, "unbalanced parenthesis: '(' is never closed"};
      ++pos_;
      return inner;
    }
    if (c == ')') throw SyntaxError{pos_, "unbalanced parenthesis: unexpected ')'"};
    if (!is_field_char(c)) throw SyntaxError{pos_, "unexpected '" + std::string(1, c) + "'; expected a check, a macro or '('"};

    size_t start = pos_;
    Operand lhs;
    bool field_ok = true;
    std::string name = read_operand(lhs, field_ok, /*allow_macro=*/true);
    skip_ws();
    std::optional<Op> op = read_op();
    if (!op) {
      // A bare name: a macro reference (or a field missing its operator).
      if (lhs.transformers.empty() && name.find('[') == std::string::npos) {
        if (AstPtr m = ctx_.find_macro ? ctx_.find_macro(name) : nullptr) return m;
        if (name.find('.') == std::string::npos && name != "view") {
          error(start, "undefined macro '" + name + "'");
          return constant(false);
        }
      }
      if (!field_ok) return constant(false);
      throw SyntaxError{pos_, "field '" + name + "' needs an operator (=, in, exists...)"};
    }
    if (!field_ok) {
      // keep parsing the operand so later problems are reported too
      skip_value_part(*op);
      return constant(false);
    }
    auto a = std::make_shared<Ast>();
    a->kind = Ast::Kind::check;
    a->offset = start;
    a->source = ctx_.source;
    a->lhs = std::move(lhs);
    a->op = *op;
    if (*op == Op::exists) return a;
    skip_ws();
    if (*op == Op::in || *op == Op::intersects || *op == Op::pmatch) {
      read_list(a->values);
    } else if (s_.substr(pos_, 4) == "val(") {
      pos_ += 4;
      Operand rhs;
      bool ok = true;
      read_operand(rhs, ok, false);
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ')') throw SyntaxError{pos_, "val(...) is missing ')'"};
      ++pos_;
      if (!ok) return constant(false);
      a->rhs_field = std::move(rhs);
    } else {
      size_t vpos = pos_;
      auto v = read_value();
      if (!v) throw SyntaxError{vpos, "operator '" + std::string(op_name(*op)) + "' needs a value"};
      a->values.push_back(std::move(*v));
    }
    check_evt_type(*a);
    return a;
  }

  void skip_value_part(Op op) {
    if (op == Op::exists) return;
    skip_ws();
    if (op == Op::in || op == Op::intersects || op == Op::pmatch) {
      std::vector<std::string> ignored;
      read_list(ignored);
    } else {
      read_value();
    }
  }

  AstPtr constant(bool v) {
    auto a = std::make_shared<Ast>();
    a->kind = Ast::Kind::constant;
    a->constant = v;
    return a;
  }

  void error(size_t at, std::string msg) { result_.errors.push_back({at, std::move(msg)}); }

  // field, field[arg], or transformer(field). Returns the text; resolves the field.
  std::string read_operand(Operand& out, bool& ok, bool allow_macro) {
    skip_ws();
    size_t start = pos_;
    while (pos_ < s_.size() && is_field_char(s_[pos_])) ++pos_;
    std::string name(s_.substr(start, pos_ - start));
    if (name.empty()) throw SyntaxError{pos_, "expected a field name"};
    static const std::unordered_map<std::string_view, Transformer> kTransformers = {
        {"tolower", Transformer::tolower}, {"toupper", Transformer::toupper},
        {"b64", Transformer::b64}, {"basename", Transformer::basename}};
    if (pos_ < s_.size() && s_[pos_] == '(') {
      auto t = kTransformers.find(name);
      if (t == kTransformers.end()) throw SyntaxError{start, "unknown transformer '" + name + "'"};
      ++pos_;
      std::string inner = read_operand(out, ok, false);
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ')') throw SyntaxError{pos_, "transformer '" + name + "(' is missing ')'"};
      ++pos_;
      out.transformers.push_back(t->second);
      if (out.field.info && out.field.type() != FieldType::string) {
        error(start, "transformer '" + name + "' needs a string field, not " + std::string(field_type_name(out.field.type())));
        ok = false;
      }
      return name + "(" + inner + ")";
    }
    if (pos_ < s_.size() && s_[pos_] == '[') {
      size_t close = s_.find(']', pos_);
      if (close == std::string_view::npos) throw SyntaxError{pos_, "'[' is never closed"};
      pos_ = close + 1;
      name = std::string(s_.substr(start, pos_ - start));
    }
    // A bare word may be a macro: resolve it as a field only if an operator follows.
    size_t save = pos_;
    skip_ws();
    bool has_op = peek_op();
    pos_ = save;
    if (allow_macro && !has_op) {
      if (ctx_.find_macro && ctx_.find_macro(name)) return name;
      if (name.find('.') == std::string::npos && name != "view") return name;
    }
    auto ref = resolve_field(name);
    if (!ref) {
      error(start, ref.error().message);
      ok = false;
      return name;
    }
    out.field = std::move(*ref);
    return name;
  }

  bool peek_op() {
    size_t save = pos_;
    bool r = read_op().has_value();
    pos_ = save;
    return r;
  }
  std::optional<Op> read_op() {
    skip_ws();
    auto rest = s_.substr(pos_);
    auto sym = [&](std::string_view t, Op op) -> std::optional<Op> {
      if (!rest.starts_with(t)) return std::nullopt;
      pos_ += t.size();
      return op;
    };
    for (auto [t, op] : {std::pair{"==", Op::eq}, {"!=", Op::ne}, {"<=", Op::le}, {">=", Op::ge}, {"=", Op::eq},
                         {"<", Op::lt}, {">", Op::gt}})
      if (auto r = sym(t, op)) return r;
    for (const auto& w : kWordOps)
      if (keyword(w.name)) return w.op;
    return std::nullopt;
  }

  // A quoted string ("..." or '...', backslash escapes) or a bare word.
  std::optional<std::string> read_value() {
    skip_ws();
    if (pos_ >= s_.size()) return std::nullopt;
    char q = s_[pos_];
    if (q == '"' || q == '\'') {
      size_t open = pos_++;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != q) {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        out += s_[pos_++];
      }
      if (pos_ >= s_.size()) throw SyntaxError{open, "unterminated string"};
      ++pos_;
      return out;
    }
    size_t start = pos_;
    int depth = 0;  // bare words may hold balanced brackets: runc:[0:PARENT]
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (is_space(c) || c == ',' || c == '"' || c == '\'') break;
      if (c == '(') break;
      if (c == ')' && depth == 0) break;
      if (c == '[') ++depth;
      if (c == ']') --depth;
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return std::string(s_.substr(start, pos_ - start));
  }

  void read_list(std::vector<std::string>& out) {
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] != '(') {
      // Falco also accepts a bare list name after in/intersects/pmatch.
      size_t at = pos_;
      auto v = read_value();
      if (!v) throw SyntaxError{at, "expected '(' and a list of values"};
      expand(*v, false, out);
      return;
    }
    size_t open = pos_++;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ')') {
      ++pos_;
      return;
    }
    for (;;) {
      skip_ws();
      bool quoted = pos_ < s_.size() && (s_[pos_] == '"' || s_[pos_] == '\'');
      size_t at = pos_;
      auto v = read_value();
      if (!v) {
        if (pos_ >= s_.size()) throw SyntaxError{open, "unbalanced parenthesis: '(' is never closed"};
        throw SyntaxError{at, "expected a list value"};
      }
      expand(*v, quoted, out);
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ')') {
        ++pos_;
        return;
      }
      throw SyntaxError{open, "unbalanced parenthesis: '(' is never closed"};
    }
  }
  void expand(const std::string& v, bool quoted, std::vector<std::string>& out) {
    if (!quoted && ctx_.find_list)
      if (const auto* items = ctx_.find_list(v)) {
        out.insert(out.end(), items->begin(), items->end());
        return;
      }
    out.push_back(v);
  }

  void check_evt_type(const Ast& a) {
    if (a.lhs.field.info == nullptr || a.lhs.field.info->type != FieldType::evttype || !a.lhs.transformers.empty()) return;
    for (const auto& v : a.values)
      if (!event_type_for_falco_name(v))
        result_.warnings.push_back({a.offset, "evt.type '" + v + "' is not produced by kata-sentry's probes; it never matches"});
  }

  struct Depth {
    int& d;
    explicit Depth(int& x) : d(++x) {}
    ~Depth() { --d; }
  };
  static constexpr int kMaxDepth = 200;
  int depth_ = 0;
  std::string_view s_;
  const ParseContext& ctx_;
  ParseResult& result_;
  size_t pos_ = 0;
};


}  // namespace

std::string_view op_name(Op op) {
  static constexpr std::string_view kNames[] = {"=", "!=", "<", "<=", ">", ">=", "contains", "icontains",
                                                "bcontains", "startswith", "bstartswith", "endswith", "in",
                                                "intersects", "pmatch", "glob", "regex", "exists"};
  return kNames[static_cast<size_t>(op)];
}

ParseResult parse_condition(std::string_view text, const ParseContext& ctx) {
  ParseResult result;
  Parser p(text, ctx, result);
  try {
    result.ast = p.parse();
  } catch (const SyntaxError& e) {
    result.errors.push_back({e.offset, e.message});
    result.ast = nullptr;
  }
  if (!result.errors.empty()) result.ast = nullptr;
  return result;
}

std::optional<EventType> event_type_for_falco_name(std::string_view name) {
  static const std::unordered_map<std::string_view, EventType> kAliases = {
      {"symlink", EventType::symlinkat}, {"link", EventType::linkat},     {"dup2", EventType::dup},
      {"dup3", EventType::dup},          {"sendmsg", EventType::sendto},  {"rename", EventType::renameat},
      {"renameat2", EventType::renameat}, {"unlink", EventType::unlinkat}, {"mknod", EventType::mknodat},
      {"fchmodat", EventType::chmod},    {"fchmod", EventType::chmod},    {"accept4", EventType::accept},
      {"fork", EventType::clone},        {"vfork", EventType::clone},     {"clone3", EventType::clone},
      {"tkill", EventType::kill},        {"tgkill", EventType::kill},     {"umount2", EventType::umount},
      {"creat", EventType::open},        {"mkdir", EventType::mkdirat},   {"setreuid", EventType::setresuid},
      {"setregid", EventType::setresgid}, {"recvmsg", EventType::recvfrom},
  };
  if (auto t = event_type_from_name(name)) return t;
  auto it = kAliases.find(name);
  if (it == kAliases.end()) return std::nullopt;
  return it->second;
}

TypeSet all_types() {
  TypeSet s;
  for (EventType t : all_event_types())
    if (static_cast<size_t>(t) < s.size()) s.set(static_cast<size_t>(t));
  return s;
}

// Types matched by a pure evt.type check, or nullopt if `a` is not one.
std::optional<TypeSet> type_check(const Ast& a) {
  return pure_check(a, all_types(), [](const FieldInfo& f) { return f.type == FieldType::evttype; },
                    [](const std::string& name) { return event_type_for_falco_name(name); });
}

TypeSet condition_types(const Ast& a) { return narrow_condition(a, all_types(), type_check); }

}  // namespace kata_sentry::policy
