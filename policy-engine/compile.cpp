#include "policy-engine/compile.h"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>
#include <unordered_set>

#include <re2/re2.h>

#include "policy-engine/bytes_equal.h"
#include "policy-engine/check_memo.h"
#include "policy-engine/check_order.h"
#include "policy-engine/string_set.h"

namespace kata_sentry::policy {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
std::string to_lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = lower(c);
  return o;
}

std::string b64_decode(std::string_view in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto p = kAlphabet.find(c);
    if (p == std::string::npos) return std::string(in);  // not base64: Falco leaves it as is
    buf = (buf << 6) | static_cast<uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

void apply_transformers(const Operand& o, Value& v) {
  for (Transformer t : o.transformers) {
    std::string s(v.str);
    switch (t) {
      case Transformer::tolower: for (auto& c : s) c = lower(c); break;
      case Transformer::toupper: for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c))); break;
      case Transformer::b64: s = b64_decode(s); break;
      case Transformer::basename: {
        auto slash = s.rfind('/');
        if (slash != std::string::npos) s = s.substr(slash + 1);
        break;
      }
    }
    v.scratch = std::move(s);
    v.str = v.scratch;
  }
}

// Extracts an operand's value, applying transformers. False = absent. Inline: it runs for
// every check of every candidate rule, and most operands have no transformer.
[[gnu::always_inline]] inline bool extract(const Operand& o, const EvalInput& in, int idx, Value& v) {
  if (!o.field.info->get(in, o.field, idx, v)) return false;
  if (!o.transformers.empty()) apply_transformers(o, v);
  return true;
}

// Calls `test` on the operand's value — or on each ancestor's for proc.aname without [N]
// (true if any matches). Absent values never match.
template <typename F>
[[gnu::always_inline]] inline bool for_values(const Operand& o, const EvalInput& in, F&& test) {
  Value v;
  if (!o.field.any_ancestor()) return extract(o, in, o.field.index, v) && test(v);
  for (int i = 1; i < 64; ++i) {
    if (!extract(o, in, i, v)) return false;
    if (test(v)) return true;
  }
  return false;
}

class AndNode final : public Node {
 public:
  explicit AndNode(std::vector<NodePtr> k) : kids_(std::move(k)) {}
  bool eval(const EvalInput& in) const noexcept override {
    for (const auto& k : kids_)
      if (!k->eval(in)) return false;
    return true;
  }
 private:
  std::vector<NodePtr> kids_;
};
class OrNode final : public Node {
 public:
  explicit OrNode(std::vector<NodePtr> k) : kids_(std::move(k)) {}
  bool eval(const EvalInput& in) const noexcept override {
    for (const auto& k : kids_)
      if (k->eval(in)) return true;
    return false;
  }
 private:
  std::vector<NodePtr> kids_;
};
class NotNode final : public Node {
 public:
  explicit NotNode(NodePtr k) : kid_(std::move(k)) {}
  bool eval(const EvalInput& in) const noexcept override { return !kid_->eval(in); }
 private:
  NodePtr kid_;
};
class ConstNode final : public Node {
 public:
  explicit ConstNode(bool v) : v_(v) {}
  bool eval(const EvalInput&) const noexcept override { return v_; }
 private:
  bool v_;
};
class TypeNode final : public Node {
 public:
  explicit TypeNode(TypeSet s) : set_(s) {}
  bool eval(const EvalInput& in) const noexcept override {
    auto t = static_cast<size_t>(in.event->type);
    return t < set_.size() && set_.test(t);
  }
 private:
  TypeSet set_;
};
// A leaf check (field OP literal). `test` decides it; a check that several rules share has
// a memo slot (check_memo.h) and is decided once per event. CRTP, so a check costs one
// virtual call whether or not it is shared.
class MemoSlotHolder {
 public:
  uint32_t* memo_slot() { return &slot_; }
 protected:
  uint32_t slot_ = kNoMemoSlot;
};
template <typename Derived>
class Check : public Node, public MemoSlotHolder {
 public:
  bool eval(const EvalInput& in) const noexcept final {
    const auto& self = static_cast<const Derived&>(*this);
    if (slot_ == kNoMemoSlot || !in.memo) return self.test(in);
    return in.memo->get(slot_, [&] { return self.test(in); });
  }
};

class ExistsNode final : public Check<ExistsNode> {
 public:
  explicit ExistsNode(Operand o) : o_(std::move(o)) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [](const Value&) { return true; });
  }
 private:
  Operand o_;
};

bool glob_match(const std::string& pattern, std::string_view v) {
  // fnmatch wants a C string; a path fits the stack buffer, no allocation per event.
  char buf[512];
  if (v.size() < sizeof buf) {
    std::memcpy(buf, v.data(), v.size());
    buf[v.size()] = '\0';
    return fnmatch(pattern.c_str(), buf, 0) == 0;
  }
  std::string s(v);
  return fnmatch(pattern.c_str(), s.c_str(), 0) == 0;
}

// One class per operator: the operator is decided at load time, so the test a check runs
// per event is a single comparison with no dispatch on it.
template <Op kOp>
class StringNode final : public Check<StringNode<kOp>> {
 public:
  StringNode(Operand o, std::string lit) : o_(std::move(o)), lit_(std::move(lit)) {
    if constexpr (kOp == Op::icontains) lit_ = to_lower(lit_);
  }
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) { return matches(v.str); });
  }
 private:
  bool matches(std::string_view s) const noexcept {
    if constexpr (kOp == Op::eq) return same_text(s, lit_);
    else if constexpr (kOp == Op::ne) return !same_text(s, lit_);
    else if constexpr (kOp == Op::lt) return s < lit_;
    else if constexpr (kOp == Op::le) return s <= lit_;
    else if constexpr (kOp == Op::gt) return s > lit_;
    else if constexpr (kOp == Op::ge) return s >= lit_;
    else if constexpr (kOp == Op::contains || kOp == Op::bcontains) return s.find(lit_) != std::string_view::npos;
    else if constexpr (kOp == Op::icontains)
      return std::search(s.begin(), s.end(), lit_.begin(), lit_.end(), [](char a, char b) { return lower(a) == b; }) != s.end();
    else if constexpr (kOp == Op::startswith || kOp == Op::bstartswith) return starts_with_text(s, lit_);
    else if constexpr (kOp == Op::endswith) return ends_with_text(s, lit_);
    else if constexpr (kOp == Op::glob) return glob_match(lit_, s);
    else return false;
  }
  Operand o_;
  std::string lit_;
};

NodePtr string_node(Operand o, Op op, std::string lit) {
  switch (op) {
    case Op::eq: return std::make_unique<StringNode<Op::eq>>(std::move(o), std::move(lit));
    case Op::ne: return std::make_unique<StringNode<Op::ne>>(std::move(o), std::move(lit));
    case Op::lt: return std::make_unique<StringNode<Op::lt>>(std::move(o), std::move(lit));
    case Op::le: return std::make_unique<StringNode<Op::le>>(std::move(o), std::move(lit));
    case Op::gt: return std::make_unique<StringNode<Op::gt>>(std::move(o), std::move(lit));
    case Op::ge: return std::make_unique<StringNode<Op::ge>>(std::move(o), std::move(lit));
    case Op::contains: return std::make_unique<StringNode<Op::contains>>(std::move(o), std::move(lit));
    case Op::bcontains: return std::make_unique<StringNode<Op::bcontains>>(std::move(o), std::move(lit));
    case Op::icontains: return std::make_unique<StringNode<Op::icontains>>(std::move(o), std::move(lit));
    case Op::startswith: return std::make_unique<StringNode<Op::startswith>>(std::move(o), std::move(lit));
    case Op::bstartswith: return std::make_unique<StringNode<Op::bstartswith>>(std::move(o), std::move(lit));
    case Op::endswith: return std::make_unique<StringNode<Op::endswith>>(std::move(o), std::move(lit));
    case Op::glob: return std::make_unique<StringNode<Op::glob>>(std::move(o), std::move(lit));
    default: return std::make_unique<ConstNode>(false);  // the operators a string check never gets
  }
}

class StringSetNode final : public Check<StringSetNode> {
 public:
  StringSetNode(Operand o, const std::vector<std::string>& items) : o_(std::move(o)), set_(items) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) { return set_.contains(v.str); });
  }
 private:
  Operand o_;
  StringSet set_;
};

// Falco's pmatch: the value is one of the paths or lies below one of them.
class PmatchNode final : public Check<PmatchNode> {
 public:
  PmatchNode(Operand o, std::vector<std::string> p) : o_(std::move(o)), prefixes_(std::move(p)) {
    for (auto& x : prefixes_)
      while (x.size() > 1 && x.back() == '/') x.pop_back();
  }
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) {
      for (const auto& p : prefixes_) {
        if (!starts_with_text(v.str, p)) continue;
        // the path itself, or below it: the next byte starts a component ("/" holds all)
        if (v.str.size() == p.size() || p == "/" || v.str[p.size()] == '/') return true;
      }
      return false;
    });
  }
 private:
  Operand o_;
  std::vector<std::string> prefixes_;
};

class RegexNode final : public Check<RegexNode> {
 public:
  RegexNode(Operand o, std::unique_ptr<re2::RE2> re) : o_(std::move(o)), re_(std::move(re)) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) { return re2::RE2::FullMatch(v.str, *re_); });
  }
 private:
  Operand o_;
  std::unique_ptr<re2::RE2> re_;
};

template <Op kOp>
class NumberNode final : public Check<NumberNode<kOp>> {
 public:
  NumberNode(Operand o, int64_t lit) : o_(std::move(o)), lit_(lit) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) {
      if constexpr (kOp == Op::eq) return v.num == lit_;
      else if constexpr (kOp == Op::ne) return v.num != lit_;
      else if constexpr (kOp == Op::lt) return v.num < lit_;
      else if constexpr (kOp == Op::le) return v.num <= lit_;
      else if constexpr (kOp == Op::gt) return v.num > lit_;
      else return v.num >= lit_;
    });
  }
 private:
  Operand o_;
  int64_t lit_;
};

NodePtr number_node(Operand o, Op op, int64_t lit) {
  switch (op) {
    case Op::eq: return std::make_unique<NumberNode<Op::eq>>(std::move(o), lit);
    case Op::ne: return std::make_unique<NumberNode<Op::ne>>(std::move(o), lit);
    case Op::lt: return std::make_unique<NumberNode<Op::lt>>(std::move(o), lit);
    case Op::le: return std::make_unique<NumberNode<Op::le>>(std::move(o), lit);
    case Op::gt: return std::make_unique<NumberNode<Op::gt>>(std::move(o), lit);
    case Op::ge: return std::make_unique<NumberNode<Op::ge>>(std::move(o), lit);
    default: return std::make_unique<ConstNode>(false);  // compile_check refuses the others
  }
}

class NumberSetNode final : public Check<NumberSetNode> {
 public:
  NumberSetNode(Operand o, std::vector<int64_t> v) : o_(std::move(o)), set_(v.begin(), v.end()) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) { return set_.count(v.num) != 0; });
  }
 private:
  Operand o_;
  std::unordered_set<int64_t> set_;
};

struct Cidr {
  int family = AF_INET;
  unsigned char addr[16] = {};
  int bits = 0;
};
bool parse_ip(std::string_view text, int& family, unsigned char* out) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}
std::optional<Cidr> parse_cidr(std::string_view text) {
  Cidr c;
  auto slash = text.find('/');
  if (!parse_ip(text.substr(0, slash), c.family, c.addr)) return std::nullopt;
  int max = c.family == AF_INET ? 32 : 128;
  c.bits = max;
  if (slash != std::string_view::npos) {
    auto b = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), c.bits);
    if (ec != std::errc() || p != b.data() + b.size() || c.bits < 0 || c.bits > max) return std::nullopt;
  }
  return c;
}
bool in_cidr(const Cidr& c, int family, const unsigned char* a) {
  if (family != c.family) return false;
  int full = c.bits / 8, rest = c.bits % 8;
  if (std::memcmp(a, c.addr, full) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (c.addr[full] & mask);
}

class NetNode final : public Check<NetNode> {
 public:
  NetNode(Operand o, bool negate, std::vector<Cidr> nets) : o_(std::move(o)), negate_(negate), nets_(std::move(nets)) {}
  bool test(const EvalInput& in) const noexcept {
    return for_values(o_, in, [this](const Value& v) {
      int family;
      unsigned char addr[16];
      if (!parse_ip(v.str, family, addr)) return negate_;  // not an address: in no network
      bool hit = std::any_of(nets_.begin(), nets_.end(), [&](const Cidr& c) { return in_cidr(c, family, addr); });
      return hit != negate_;
    });
  }
 private:
  Operand o_;
  bool negate_;
  std::vector<Cidr> nets_;
};

// field OP val(other field)
class FieldCompareNode final : public Check<FieldCompareNode> {
 public:
  FieldCompareNode(Operand l, Op op, Operand r) : l_(std::move(l)), op_(op), r_(std::move(r)) {}
  bool test(const EvalInput& in) const noexcept {
    Value rv;
    if (!extract(r_, in, r_.field.index < 0 ? 1 : r_.field.index, rv)) return false;
    bool numeric = l_.field.type() != FieldType::string && l_.field.type() != FieldType::ipnet &&
                   l_.field.type() != FieldType::evttype;
    std::string rs(rv.str);
    return for_values(l_, in, [&](const Value& v) {
      if (numeric) {
        switch (op_) {
          case Op::eq: return v.num == rv.num;
          case Op::ne: return v.num != rv.num;
          case Op::lt: return v.num < rv.num;
          case Op::le: return v.num <= rv.num;
          case Op::gt: return v.num > rv.num;
          case Op::ge: return v.num >= rv.num;
          default: return false;
        }
      }
      switch (op_) {
        case Op::eq: return v.str == rs;
        case Op::ne: return v.str != rs;
        case Op::contains: return v.str.find(rs) != std::string_view::npos;
        case Op::startswith: return v.str.starts_with(rs);
        case Op::endswith: return v.str.ends_with(rs);
        default: return false;
      }
    });
  }
 private:
  Operand l_;
  Op op_;
  Operand r_;
};

std::optional<int64_t> parse_number(std::string_view s, FieldType type) {
  if (type == FieldType::boolean) {
    if (s == "true") return 1;
    if (s == "false") return 0;
    return std::nullopt;
  }
  int64_t v = 0;
  int base = 10;
  if (s.starts_with("0x")) {
    s.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::string> hex_bytes(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

using Compiled = std::expected<NodePtr, CompileError>;

Compiled err(const Ast& a, std::string msg) {
   return std::unexpected(CompileError{a.offset, a.source, "'" + a.lhs.field.text + " " + std::string(op_name(a.op)) + "': " + msg});
}

Compiled compile_check(const Ast& a) {
  const Operand& o = a.lhs;
  FieldType type = o.transformers.empty() ? o.field.type() : FieldType::string;
  // A kata-sentry record is the enter and the exit of its syscall in one (arguments and
  // result), so it is both of Falco's directions: evt.dir = < and evt.dir = > both hold.
  if (o.field.info && o.field.info->name == "evt.dir" && o.transformers.empty() && !a.rhs_field &&
      (a.op == Op::eq || a.op == Op::ne) && a.values.size() == 1 && (a.values[0] == "<" || a.values[0] == ">"))
    return std::make_unique<ConstNode>(a.op == Op::eq);
  if (a.op == Op::exists) return std::make_unique<ExistsNode>(o);
  if (a.rhs_field) {
    if (a.op != Op::eq && a.op != Op::ne && a.op != Op::lt && a.op != Op::le && a.op != Op::gt && a.op != Op::ge &&
        a.op != Op::contains && a.op != Op::startswith && a.op != Op::endswith)
      return err(a, "operator does not take val()");
    return std::make_unique<FieldCompareNode>(o, a.op, *a.rhs_field);
  }
  bool list_op = a.op == Op::in || a.op == Op::intersects || a.op == Op::pmatch;
  switch (type) {
    case FieldType::evttype: {
      if (a.op != Op::eq && a.op != Op::ne && !list_op)
        return string_node(o, a.op, a.values.empty() ? "" : a.values[0]);
      TypeSet s;
      for (const auto& v : a.values)
        if (auto t = event_type_for_falco_name(v)) s.set(static_cast<size_t>(*t));
      if (a.op == Op::ne) return std::make_unique<NotNode>(std::make_unique<TypeNode>(s));
      return std::make_unique<TypeNode>(s);
    }
    case FieldType::number:
    case FieldType::boolean: {
      std::vector<int64_t> nums;
      for (const auto& v : a.values) {
        auto n = parse_number(v, type);
        if (!n) return err(a, "'" + v + "' is not a " + (type == FieldType::boolean ? "bool (true|false)" : "number"));
        nums.push_back(*n);
      }
      if (list_op) {
        if (a.op == Op::pmatch) return err(a, "pmatch needs a string field");
        return std::make_unique<NumberSetNode>(o, std::move(nums));
      }
      if (a.op > Op::ge) return err(a, "operator needs a string field, this one is a " + std::string(field_type_name(type)));
      if (type == FieldType::boolean && a.op != Op::eq && a.op != Op::ne) return err(a, "a bool field takes = or !=");
      return number_node(o, a.op, nums[0]);
    }
    case FieldType::ipnet: {
      std::vector<Cidr> nets;
      for (const auto& v : a.values) {
        auto c = parse_cidr(v);
        if (!c) return err(a, "'" + v + "' is not an address or CIDR");
        nets.push_back(*c);
      }
      if (a.op != Op::eq && a.op != Op::ne && a.op != Op::in) return err(a, "a network field takes =, != or in");
      return std::make_unique<NetNode>(o, a.op == Op::ne, std::move(nets));
    }
    case FieldType::string:
      break;
  }
  if (a.op == Op::in || a.op == Op::intersects) return std::make_unique<StringSetNode>(o, a.values);
  if (a.op == Op::pmatch) return std::make_unique<PmatchNode>(o, a.values);
  const std::string& lit = a.values.at(0);
  if (a.op == Op::regex) {
    auto re = std::make_unique<re2::RE2>(lit, re2::RE2::Quiet);
    if (!re->ok()) return err(a, "bad regex '" + lit + "': " + re->error());
    return std::make_unique<RegexNode>(o, std::move(re));
  }
  if (a.op == Op::bcontains || a.op == Op::bstartswith) {
    auto bytes = hex_bytes(lit);
    if (!bytes) return err(a, "'" + lit + "' is not hex bytes");
    return string_node(o, a.op, *bytes);
  }
  return string_node(o, a.op, lit);
}

AstPtr constant_ast(bool v) {
  auto a = std::make_shared<Ast>();
  a->kind = Ast::Kind::constant;
  a->constant = v;
  return a;
}

// Returns a simplified copy; the input (possibly a shared macro tree) is not modified.
AstPtr simplify(const AstPtr& a, const TypeSet& ctx) {
  switch (a->kind) {
    case Ast::Kind::constant: return a;
    case Ast::Kind::check: {
      auto t = type_check(*a);
      if (!t) return a;
      if ((ctx & ~*t).none()) return constant_ast(true);
      if ((ctx & *t).none()) return constant_ast(false);
      return a;
    }
    case Ast::Kind::not_: {
      AstPtr k = simplify(a->kids[0], ctx);
      if (k->kind == Ast::Kind::constant) return constant_ast(!k->constant);
      if (k == a->kids[0]) return a;
      auto n = std::make_shared<Ast>(*a);
      n->kids = {k};
      return n;
    }
    case Ast::Kind::and_: case Ast::Kind::or_: {
      bool is_and = a->kind == Ast::Kind::and_;
      std::vector<AstPtr> kids;
      std::function<void(const AstPtr&)> add = [&](const AstPtr& k) {
        if (k->kind == a->kind) {
          for (const auto& g : k->kids) add(g);
          return;
        }
        kids.push_back(k);
      };
      for (const auto& k : a->kids) add(simplify(k, ctx));
      std::vector<AstPtr> kept;
      for (auto& k : kids) {
        if (k->kind == Ast::Kind::constant) {
          if (k->constant != is_and) return constant_ast(k->constant);  // false in and / true in or
          continue;
        }
        kept.push_back(k);
      }
      if (kept.empty()) return constant_ast(is_and);
      if (kept.size() == 1) return kept[0];
      order_operands(kept, is_and);
      auto n = std::make_shared<Ast>();
      n->kind = a->kind;
      n->kids = std::move(kept);
      return n;
    }
  }
  return a;
}

Compiled compile_node(const Ast& a, SharedChecks* shared);

}  // namespace

std::expected<NodePtr, CompileError> compile_condition(const Ast& a, const TypeSet& context, SharedChecks* shared) {
  // Literal errors are reported for the whole tree, even parts the context folds away.
  auto check = compile_node(a, nullptr);
  if (!check) return check;
  AstPtr simple = simplify(std::make_shared<Ast>(a), context);
  return compile_node(*simple, shared);
}

namespace {

// What makes two checks twins: the same operand (field as written, transformers), operator
// and literals, or val() field.
std::string check_key(const Ast& a) {
  auto operand = [](const Operand& o) {
    std::string k = o.field.text;
    for (Transformer t : o.transformers) k += "|" + std::to_string(static_cast<int>(t));
    return k;
  };
  std::string key = operand(a.lhs) + '\x1f' + std::to_string(static_cast<int>(a.op)) + '\x1f';
  for (const auto& v : a.values) key += v + '\x1e';
  if (a.rhs_field) key += "val(" + operand(*a.rhs_field) + ")";
  return key;
}

Compiled compile_node(const Ast& a, SharedChecks* shared) {
  switch (a.kind) {
    case Ast::Kind::constant: return std::make_unique<ConstNode>(a.constant);
    case Ast::Kind::check: {
      auto c = compile_check(a);
      if (!c || !shared) return c;
      // Type tests and constants are cheaper than a memo lookup; every other check is a Check.
      // The node was just made (not a const object): its slot is set before any evaluation.
      auto* holder = dynamic_cast<MemoSlotHolder*>(const_cast<Node*>(c->get()));
      if (holder) shared->add(check_key(a), holder->memo_slot());
      return c;
    }
    case Ast::Kind::not_: {
      auto k = compile_node(*a.kids[0], shared);
      if (!k) return k;
      return std::make_unique<NotNode>(std::move(*k));
    }
    case Ast::Kind::and_:
    case Ast::Kind::or_: {
      std::vector<NodePtr> kids;
      for (const auto& k : a.kids) {
        auto c = compile_node(*k, shared);
        if (!c) return c;
        kids.push_back(std::move(*c));
      }
      if (a.kind == Ast::Kind::and_) return std::make_unique<AndNode>(std::move(kids));
      return std::make_unique<OrNode>(std::move(kids));
    }
  }
  return std::make_unique<ConstNode>(false);
}

}  // namespace
}  // namespace kata_sentry::policy
