#include "policy-engine/loader.h"
#include "policy-engine/field_filters.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/yaml.h>

namespace kata_sentry::policy {
namespace {

namespace fs = std::filesystem;

// Maps a YAML scalar back to the file: the position of every character of its value,
// found by walking the raw text alongside the (folded, unescaped) value.
SourceText source_of(const YAML::Node& node, const std::string& file, const std::string& raw) {
  SourceText st;
  st.text = node.IsScalar() ? node.Scalar() : "";
  const YAML::Mark m = node.Mark();
  std::vector<size_t> line_starts{0};
  for (size_t i = 0; i < raw.size(); ++i)
    if (raw[i] == '\n') line_starts.push_back(i + 1);
  auto pos_of = [&](size_t p) {
    auto it = std::upper_bound(line_starts.begin(), line_starts.end(), p);
    size_t line = static_cast<size_t>(it - line_starts.begin());  // 1-based
    return SourcePos{file, static_cast<int>(line), static_cast<int>(p - line_starts[line - 1] + 1)};
  };
  size_t p = m.pos >= 0 ? static_cast<size_t>(m.pos) : 0;
  if (p < raw.size() && (raw[p] == '>' || raw[p] == '|')) {
    auto nl = raw.find('\n', p);
    p = nl == std::string::npos ? raw.size() : nl + 1;
  } else if (p < raw.size() && (raw[p] == '"' || raw[p] == '\'')) {
    ++p;
  }
  for (char c : st.text) {
    size_t q = p;
    while (q < raw.size() && q - p < 256 && raw[q] != c) ++q;
    if (q < raw.size() && raw[q] == c) p = q;
    st.positions.push_back(pos_of(std::min(p, raw.empty() ? 0 : raw.size() - 1)));
    if (p < raw.size()) ++p;
  }
  if (st.positions.empty()) st.positions.push_back(pos_of(std::min<size_t>(m.pos >= 0 ? m.pos : 0, raw.size())));
  return st;
}

SourcePos mark_pos(const YAML::Mark& m, const std::string& file) { return {file, m.line + 1, m.column + 1}; }
std::string pos_text(const SourcePos& p) { return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column); }

struct ListDef {
  std::vector<std::string> items;
  SourcePos pos;
};
struct MacroDef {
  std::string name;
  SourceText condition;
  SourcePos pos;
  size_t order = 0;  // definition order: macros see only earlier macros
  AstPtr ast;
  bool failed = false;
  bool used = false;  // named by a rule, a sequence step or another macro
  // The macro's only errors were these unknown fields: each rule that uses it names them (and
  // fails, or is skipped); unused, they are a warning, as Falco compiles only what rules use.
  std::vector<std::string> unknown_fields;
};
struct ExceptionDef {
  std::string name;
  std::vector<std::string> fields;
  bool single_field = false;
  std::vector<std::string> comps;
  std::vector<std::vector<std::string>> values;  // one tuple per row
  SourcePos pos;
};
struct RuleDef {
  std::string name, desc, output, source = "syscall", action = "alert", file;
  SourceText condition, output_src;
  SourcePos pos;
  std::string priority = "warning";
  SourcePos priority_pos, action_pos;
  std::vector<std::string> tags;
  std::vector<ExceptionDef> exceptions;
  bool enabled = true;
  bool skip_if_unknown_filter = false;
  bool has_condition = false;
};
struct SequenceDef {
  std::string name, desc, output, action = "alert", priority = "warning", file;
  SourceText output_src;
  std::vector<std::string> by{"sandbox.id"};
  std::string within = "60s";
  struct Step {
    std::string rule;
    SourceText condition;
    SourcePos pos;
  };
  std::vector<Step> steps;
  std::vector<std::string> tags;
  bool enabled = true;
  SourcePos pos;
};

std::vector<std::string> scalars(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& x : n)
      if (x.IsScalar()) out.push_back(x.Scalar());
  }
  return out;
}

std::string quote(const std::string& v) {
  std::string o = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

// Which keys override may name, and how.
const std::set<std::string> kAppendable = {"condition", "output", "desc", "tags", "exceptions", "items"};
const std::set<std::string> kReplaceable = {"condition", "output", "desc", "tags", "exceptions", "items", "priority",
                                            "enabled", "source", "action"};

// Only "unknown field" errors: what skip-if-unknown-filter (or LoadOptions) may skip.
bool only_unknown_fields(const ParseResult& r) {
  return !r.errors.empty() && std::all_of(r.errors.begin(), r.errors.end(),
                                          [](const ParseError& e) { return e.message.starts_with("unknown field"); });
}

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options) {}

  LoadResult run(const std::vector<RuleSource>& sources) {
    for (const auto& s : sources) read_file(s);
    if (!d_.has_errors()) resolve();
    LoadResult r;
    r.diagnostics = std::move(d_);
    r.files = std::move(files_);
    if (!r.diagnostics.has_errors()) {
      set_.shared_check_slots = shared_checks_.assign();
      r.rules = std::move(set_);
    }
    return r;
  }

 private:
  // ---------- reading ----------
  void read_file(const RuleSource& src) {
    file_ = src.name;
    raw_ = &src.content;
    files_.push_back({src.name});
    YAML::Node root;
    try {
      root = YAML::Load(src.content);
    } catch (const YAML::Exception& e) {
      d_.error(mark_pos(e.mark, file_), "", "YAML: " + e.msg);
      return;
    }
    if (root.IsNull()) return;
    if (!root.IsSequence()) {
      d_.error(mark_pos(root.Mark(), file_), "", "a rules file is a YAML list of rule, macro and list items");
      return;
    }
    for (const auto& item : root) {
      try {
        read_item(item);
      } catch (const YAML::Exception& e) {
        d_.error(mark_pos(e.mark, file_), "", "YAML: " + e.msg);
      }
    }
  }

  SourcePos at(const YAML::Node& n) const { return mark_pos(n.Mark(), file_); }
  SourceText text_of(const YAML::Node& n) const { return source_of(n, file_, *raw_); }

  bool scalar(const YAML::Node& item, const char* key, std::string& out, const std::string& obj) {
    auto n = item[key];
    if (!n) return false;
    if (!n.IsScalar()) {
      d_.error(at(n), obj, std::string("'") + key + "' must be a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }
  bool boolean(const YAML::Node& item, const char* key, bool& out, const std::string& obj) {
    auto n = item[key];
    if (!n) return false;
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
      out = n.Scalar() == "true";
      return true;
    }
    d_.error(at(n), obj, std::string("'") + key + "' must be true or false");
    return false;
  }
  void unknown_keys(const YAML::Node& item, const std::set<std::string>& known, const std::string& obj) {
    for (const auto& kv : item) {
      std::string k = kv.first.as<std::string>();
      if (!known.count(k)) d_.warning(at(kv.first), obj, "unknown key '" + k + "' ignored");
    }
  }

  // Reads `append:` and `override:`; returns per-key mode ("append"/"replace"/"").
  std::map<std::string, std::string> read_modes(const YAML::Node& item, const std::string& obj, bool& append) {
    std::map<std::string, std::string> modes;
    append = false;
    boolean(item, "append", append, obj);
    if (auto o = item["override"]) {
      if (append) d_.error(at(o), obj, "'append' and 'override' cannot be used together");
      if (!o.IsMap()) {
        d_.error(at(o), obj, "'override' must map keys to append or replace");
        return modes;
      }
      for (const auto& kv : o) {
        std::string k = kv.first.as<std::string>(), v = kv.second.IsScalar() ? kv.second.Scalar() : "";
        if (v != "append" && v != "replace") {
          d_.error(at(kv.second), obj, "override of '" + k + "' must be append or replace");
        } else if ((v == "append" && !kAppendable.count(k)) || (v == "replace" && !kReplaceable.count(k))) {
          d_.error(at(kv.first), obj, "'" + k + "' cannot be overridden with " + v);
        } else if (!item[k]) {
          d_.error(at(kv.first), obj, "override names '" + k + "' but the item does not define it");
        } else {
          modes[k] = v;
        }
      }
    }
    return modes;
  }

  void read_item(const YAML::Node& item) {
    if (!item.IsMap()) {
      d_.error(at(item), "", "each item must be a map (rule, macro, list, sequence, ...)");
      return;
    }
    if (item["rule"]) return read_rule(item);
    if (item["macro"]) return read_macro(item);
    if (item["list"]) return read_list(item);
    if (item["sequence"]) return read_sequence(item);
    if (auto v = item["required_engine_version"]) {
      std::string given = v.IsScalar() ? v.Scalar() : "";
      auto want = engine_version(given);
      if (!want)
        d_.error(at(v), "", "required_engine_version '" + given + "' is neither a number nor an x.y.z version");
      else if (*parse_version(kEngineVersion) < *want)
        d_.error(at(v), "", "requires engine version " + given + ", this engine implements " + std::string(kEngineVersion));
      return;
    }
    if (item["required_plugin_versions"]) return;  // container/k8s fields are built in
    d_.warning(at(item), "", "unknown item ignored (expected rule, macro, list or sequence)");
  }

  using Version = std::array<unsigned, 3>;
  // "x.y.z", each part a number; nullopt otherwise.
  static std::optional<Version> parse_version(std::string_view s) {
    Version v{};
    for (size_t i = 0; i < v.size(); ++i) {
      auto dot = i + 1 < v.size() ? s.find('.') : s.size();
      if (dot == std::string_view::npos) return std::nullopt;
      auto part = s.substr(0, dot);
      auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
      if (part.empty() || ec != std::errc() || end != part.data() + part.size()) return std::nullopt;
      s = dot < s.size() ? s.substr(dot + 1) : std::string_view();
    }
    return v;
  }
  // Falco's engine versions were bare numbers before they became semver; a number N means
  // 0.N.0 (Falco's implicit engine version), so older rules files (e.g. `26`) still load.
  static std::optional<Version> engine_version(std::string_view s) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) return Version{0, n, 0};
    return parse_version(s);
  }

  void read_list(const YAML::Node& item) {
    std::string name;
    scalar(item, "list", name, "list");
    std::string obj = "list '" + name + "'";
    unknown_keys(item, {"list", "items", "append", "override"}, obj);
    bool append = false;
    auto modes = read_modes(item, obj, append);
    auto items_node = item["items"];
    if (!items_node || !(items_node.IsSequence() || items_node.IsNull())) {
      d_.error(at(item), obj, "'items' must be a list");
      return;
    }
    auto items = scalars(items_node);
    bool app = append || modes["items"] == "append";
    auto it = lists_.find(name);
    if (app) {
      if (it == lists_.end()) {
        d_.error(at(item), obj, "append to an undefined list");
        return;
      }
      it->second.items.insert(it->second.items.end(), items.begin(), items.end());
      return;
    }
    if (it == lists_.end()) list_order_.push_back(name);
    lists_[name] = {items, at(item)};
    ++files_.back().lists;
  }

  void read_macro(const YAML::Node& item) {
    std::string name;
    scalar(item, "macro", name, "macro");
    std::string obj = "macro '" + name + "'";
    unknown_keys(item, {"macro", "condition", "append", "override"}, obj);
    bool append = false;
    auto modes = read_modes(item, obj, append);
    auto c = item["condition"];
    if (!c || !c.IsScalar()) {
      d_.error(at(item), obj, "'condition' is required and must be a string");
      return;
    }
    auto it = macro_index_.find(name);
    if (append || modes["condition"] == "append") {
      if (it == macro_index_.end()) {
        d_.error(at(item), obj, "append to an undefined macro");
        return;
      }
      macros_[it->second].condition.append(text_of(c));
      return;
    }
    if (it != macro_index_.end()) {
      macros_[it->second].condition = text_of(c);
      macros_[it->second].pos = at(item);
      return;
    }
    macro_index_[name] = macros_.size();
    macros_.push_back({name, text_of(c), at(item), macros_.size()});
    ++files_.back().macros;
  }

  std::vector<ExceptionDef> read_exceptions(const YAML::Node& n, const std::string& obj) {
    std::vector<ExceptionDef> out;
    if (!n) return out;
    if (!n.IsSequence()) {
      d_.error(at(n), obj, "'exceptions' must be a list");
      return out;
    }
    for (const auto& e : n) {
      ExceptionDef x;
      x.pos = at(e);
      if (!e.IsMap() || !e["name"]) {
        d_.error(at(e), obj, "each exception needs a 'name'");
        continue;
      }
      x.name = e["name"].as<std::string>();
      std::string eobj = obj + ": exception '" + x.name + "'";
      auto fields = e["fields"];
      x.single_field = fields && fields.IsScalar();
      x.fields = scalars(fields);
      auto comps = e["comps"];
      x.comps = scalars(comps);
      if (x.comps.empty()) x.comps.assign(x.fields.size(), x.single_field ? "in" : "=");
      if (x.comps.size() != x.fields.size()) {
        d_.error(at(e), eobj, "'fields' and 'comps' must have the same length");
        continue;
      }
      if (auto values = e["values"]; values && values.IsSequence()) {
        for (const auto& row : values) {
          if (x.single_field) {
            x.values.push_back({row.IsScalar() ? row.Scalar() : ""});
          } else if (row.IsSequence()) {
            std::vector<std::string> tuple;
            for (const auto& v : row) {
              if (v.IsSequence()) {  // a list value for an `in` comparison
                std::string l = "(";
                for (const auto& s : v) l += (l.size() > 1 ? ", " : "") + quote(s.as<std::string>());
                tuple.push_back(l + ")");
              } else {
                tuple.push_back(v.as<std::string>());
              }
            }
            if (tuple.size() != x.fields.size()) {
              d_.error(at(row), eobj, "each value tuple needs " + std::to_string(x.fields.size()) + " values");
              continue;
            }
            x.values.push_back(std::move(tuple));
          } else {
            d_.error(at(row), eobj, "each value must be a list matching 'fields'");
          }
        }
      }
      out.push_back(std::move(x));
    }
    return out;
  }

  void read_rule(const YAML::Node& item) {
    std::string name;
    scalar(item, "rule", name, "rule");
    std::string obj = "rule '" + name + "'";
    unknown_keys(item, {"rule", "desc", "condition", "output", "priority", "tags", "enabled", "exceptions", "source",
                        "append", "override", "skip-if-unknown-filter", "action", "required_engine_version",
                        "warn_evttypes", "capture", "capture_duration"},
                 obj);
    bool append = false;
    auto modes = read_modes(item, obj, append);
    auto it = rule_index_.find(name);
    bool has_override = item["override"].IsDefined();
    if (append || has_override) {
      if (it == rule_index_.end()) {
        d_.error(at(item), obj, std::string(append ? "append" : "override") + " of an undefined rule");
        return;
      }
      RuleDef& r = rules_[it->second];
      auto mode = [&](const char* k) { return append ? std::string("append") : modes[k]; };
      if (auto c = item["condition"]) {
        if (mode("condition") == "append") r.condition.append(text_of(c));
        else if (mode("condition") == "replace") r.condition = text_of(c);
      }
      if (auto o = item["output"]) {
        if (mode("output") == "append") {
          r.output += " " + o.as<std::string>();
        } else if (mode("output") == "replace") {
          r.output = o.as<std::string>();
          r.output_src = text_of(o);
        }
      }
      if (auto dsc = item["desc"]) r.desc = mode("desc") == "append" ? r.desc + " " + dsc.as<std::string>() : dsc.as<std::string>();
      if (auto t = item["tags"]) {
        auto tags = scalars(t);
        if (mode("tags") != "append") r.tags.clear();
        r.tags.insert(r.tags.end(), tags.begin(), tags.end());
      }
      if (auto e = item["exceptions"]) {
        auto ex = read_exceptions(e, obj);
        if (mode("exceptions") != "append") r.exceptions.clear();
        r.exceptions.insert(r.exceptions.end(), ex.begin(), ex.end());
      }
      if (!append) {
        if (modes.count("priority")) scalar(item, "priority", r.priority, obj), r.priority_pos = at(item["priority"]);
        if (modes.count("enabled")) boolean(item, "enabled", r.enabled, obj);
        if (modes.count("action")) scalar(item, "action", r.action, obj), r.action_pos = at(item["action"]);
        if (modes.count("source")) scalar(item, "source", r.source, obj);
      }
      return;
    }
    // `- rule: X\n  enabled: false` alone toggles an existing rule (Falco allows it).
    if (!item["condition"] && it != rule_index_.end() && item["enabled"]) {
      boolean(item, "enabled", rules_[it->second].enabled, obj);
      return;
    }
    RuleDef r;
    r.name = name;
    r.file = file_;
    r.pos = at(item);
    auto c = item["condition"];
    if (!c || !c.IsScalar()) {
      d_.error(at(item), obj, "'condition' is required and must be a string");
      return;
    }
    r.condition = text_of(c);
    r.has_condition = true;
    auto o = item["output"];
    if (!o || !o.IsScalar()) {
      d_.error(at(item), obj, "'output' is required");
      return;
    }
    r.output = o.Scalar();
    r.output_src = text_of(o);
    if (!scalar(item, "desc", r.desc, obj)) d_.error(at(item), obj, "'desc' is required");
    if (scalar(item, "priority", r.priority, obj)) {
      r.priority_pos = at(item["priority"]);
    } else {
      d_.error(at(item), obj, "'priority' is required");
    }
    r.tags = scalars(item["tags"]);
    boolean(item, "enabled", r.enabled, obj);
    boolean(item, "skip-if-unknown-filter", r.skip_if_unknown_filter, obj);
    scalar(item, "source", r.source, obj);
    if (scalar(item, "action", r.action, obj)) r.action_pos = at(item["action"]);
    r.exceptions = read_exceptions(item["exceptions"], obj);
    if (it != rule_index_.end()) {
      rules_[it->second] = std::move(r);  // a later definition replaces the earlier one
    } else {
      rule_index_[name] = rules_.size();
      rules_.push_back(std::move(r));
    }
    ++files_.back().rules;
  }

  void read_sequence(const YAML::Node& item) {
    SequenceDef s;
    scalar(item, "sequence", s.name, "sequence");
    std::string obj = "sequence '" + s.name + "'";
    unknown_keys(item, {"sequence", "desc", "by", "within", "steps", "priority", "tags", "enabled", "action", "output"}, obj);
    s.file = file_;
    s.pos = at(item);
    scalar(item, "desc", s.desc, obj);
    if (auto b = item["by"]) s.by = scalars(b);
    scalar(item, "within", s.within, obj);
    scalar(item, "priority", s.priority, obj);
    scalar(item, "action", s.action, obj);
    s.tags = scalars(item["tags"]);
    boolean(item, "enabled", s.enabled, obj);
    if (auto o = item["output"]) {
      s.output = o.as<std::string>();
      s.output_src = text_of(o);
    } else {
      s.output = "Sequence " + s.name + " completed (sandbox=%sandbox.id view=%view evt_type=%evt.type process=%proc.name)";
    }
    auto steps = item["steps"];
    if (!steps || !steps.IsSequence() || steps.size() < 2) {
      d_.error(at(item), obj, "'steps' must list at least two steps");
      return;
    }
    for (const auto& st : steps) {
      SequenceDef::Step step;
      step.pos = at(st);
      if (st.IsMap() && st["rule"] && st["rule"].IsScalar()) {
        step.rule = st["rule"].Scalar();
      } else if (st.IsMap() && st["condition"] && st["condition"].IsScalar()) {
        step.condition = text_of(st["condition"]);
      } else {
        d_.error(at(st), obj, "each step is {rule: NAME} or {condition: ...}");
        continue;
      }
      s.steps.push_back(std::move(step));
    }
    sequences_.push_back(std::move(s));
    ++files_.back().sequences;
  }

  // ---------- resolving ----------
  void flatten_lists() {
    std::function<void(const std::string&, std::vector<std::string>&, std::set<std::string>&)> expand =
        [&](const std::string& name, std::vector<std::string>& out, std::set<std::string>& seen) {
          for (const auto& item : lists_[name].items) {
            if (lists_.count(item) && !seen.count(item)) {
              seen.insert(item);
              expand(item, out, seen);
              continue;
            }
            // Items may be written with quotes inside the YAML value: '"(systemd)"'.
            if (item.size() >= 2 && (item.front() == '"' || item.front() == '\'') && item.back() == item.front()) {
              std::string v;
              for (size_t i = 1; i + 1 < item.size(); ++i) {
                if (item[i] == '\\' && i + 2 < item.size()) ++i;
                v += item[i];
              }
              out.push_back(v);
            } else {
              out.push_back(item);
            }
          }
        };
    for (const auto& name : list_order_) {
      std::vector<std::string> out;
      std::set<std::string> seen{name};
      expand(name, out, seen);
      flat_lists_[name] = std::move(out);
    }
  }

  void report(const ParseResult& r, const SourceText& src, const std::string& obj, bool as_warning = false) {
    for (const auto& e : r.errors) {
      if (as_warning) d_.warning(src.at(e.offset), obj, e.message);
      else d_.error(src.at(e.offset), obj, e.message);
    }
    for (const auto& w : r.warnings) {
      std::string key = obj + w.message;
      if (warned_.insert(key).second) d_.warning(src.at(w.offset), obj, w.message);
    }
  }

  ParseContext context(size_t visible_macros, const SourceText* src) {
    ParseContext ctx;
    ctx.source = src;
    ctx.find_list = [this](std::string_view n) -> const std::vector<std::string>* {
      auto it = flat_lists_.find(std::string(n));
      return it == flat_lists_.end() ? nullptr : &it->second;
    };
    ctx.find_macro = [this, visible_macros](std::string_view n) -> AstPtr {
      auto it = macro_index_.find(std::string(n));
      if (it == macro_index_.end() || macros_[it->second].order >= visible_macros) return nullptr;
      MacroDef& m = macros_[it->second];
      m.used = true;
      if (unknown_via_macros_)
        unknown_via_macros_->insert(unknown_via_macros_->end(), m.unknown_fields.begin(), m.unknown_fields.end());
      if (!m.ast) {  // failed: reported (at the macro, or by its users for unknown fields); no cascade
        auto a = std::make_shared<Ast>();
        a->kind = Ast::Kind::constant;
        return a;
      }
      return m.ast;
    };
    return ctx;
  }

  void resolve() {
    flatten_lists();
    set_.list_count = lists_.size();
    set_.macro_count = macros_.size();
    for (auto& m : macros_) {
      std::vector<std::string> inherited;
      unknown_via_macros_ = &inherited;
      auto r = parse_condition(m.condition.text, context(m.order, &m.condition));
      unknown_via_macros_ = nullptr;
      if (only_unknown_fields(r) || (r.errors.empty() && !inherited.empty())) {
        // Reported by each rule that uses the macro (naming where the macro has the field), not
        // here: an unused macro with a field kata-sentry lacks costs nothing.
        for (const auto& e : r.errors)
          m.unknown_fields.push_back(e.message + " (macro '" + m.name + "' at " + pos_text(m.condition.at(e.offset)) + ")");
        m.unknown_fields.insert(m.unknown_fields.end(), inherited.begin(), inherited.end());
        r.ast = nullptr;
        r.errors.clear();
      }
      report(r, m.condition, "macro '" + m.name + "'");
      m.ast = r.ast;
      if (m.ast) {
        auto c = compile_condition(*m.ast);
        if (!c) compile_error(c.error(), "macro '" + m.name + "'");
      }
    }
    for (auto& r : rules_) build_rule(r);
    for (auto& s : sequences_) build_sequence(s);
    for (const auto& m : macros_)
      if (!m.used && !m.unknown_fields.empty())
        d_.warning(m.pos, "macro '" + m.name + "'", "not used by any rule; it could not load: " + m.unknown_fields.front());
  }

  void compile_error(const CompileError& e, const std::string& obj) {
    SourcePos p = e.source ? e.source->at(e.offset) : SourcePos{};
    std::string key = std::to_string(p.line) + ":" + std::to_string(p.column) + e.message;
    if (compile_reported_.insert(key).second) d_.error(p, obj, e.message);
  }

  void build_rule(RuleDef& def) {
    std::string obj = "rule '" + def.name + "'";
    Rule r;
    r.name = def.name;
    r.desc = def.desc;
    r.file = def.file;
    r.pos = def.pos;
    r.tags = def.tags;
    r.enabled = def.enabled;
    r.source = def.source;
    if (def.source != "syscall") {
      d_.warning(def.pos, obj, "source '" + def.source + "' is not evaluated by kata-sentry; rule skipped");
      return;
    }
    auto prio = priority_from_name(def.priority);
    if (!prio) d_.error(def.priority_pos, obj, "unknown priority '" + def.priority + "' (emergency..debug)");
    auto action = action_from_name(def.action);
    if (!action) d_.error(def.action_pos, obj, "unknown action '" + def.action + "' (alert|deny|kill|kill_sandbox)");
    // Exceptions: cond and not ((f1 c1 v1 and f2 c2 v2) or ...), as Falco builds them.
    SourceText cond = def.condition;
    std::string exc;
    SourcePos exc_pos;
    for (const auto& e : def.exceptions) {
      for (const auto& row : e.values) {
        std::string term;
        if (e.single_field) {
          const std::string& comp = e.comps[0];
          term = e.fields[0] + " " + comp + " " + (comp == "in" || comp == "pmatch" || comp == "intersects"
                                                      ? "(" + quote(row[0]) + ")"
                                                      : quote(row[0]));
        } else {
          for (size_t i = 0; i < e.fields.size(); ++i) {
            const std::string& v = row[i];
            bool list = !v.empty() && v.front() == '(';
            term += (i ? " and " : "") + e.fields[i] + " " + e.comps[i] + " " + (list ? v : quote(v));
          }
        }
        exc += (exc.empty() ? "(" : " or (") + term + ")";
        exc_pos = e.pos;
      }
    }
    if (!exc.empty()) {
      SourceText head;
      head.text = "(";
      head.positions = {cond.at(0)};
      head.append(cond);
      SourceText tail;
      tail.text = ") and not (" + exc + ")";
      tail.positions.assign(tail.text.size(), exc_pos);
      head.text += tail.text;
      head.positions.insert(head.positions.end(), tail.positions.begin(), tail.positions.end());
      cond = std::move(head);
    }
    r.condition = cond.text;
    std::vector<std::string> via_macros;
    unknown_via_macros_ = &via_macros;
    auto parsed = parse_condition(cond.text, context(SIZE_MAX, &cond));
    unknown_via_macros_ = nullptr;
    auto out = OutputTemplate::parse(def.output);
    const bool skip = def.skip_if_unknown_filter || options_.skip_unknown_fields;
    if (skip) {
      // Falco's skip-if-unknown-filter: the rule is left out, whole, when every problem in its
      // condition (its macros and exceptions included) and its output is a field kata-sentry
      // does not know. Any other problem still fails the load.
      const bool output_unknown = !out && out.error().second.starts_with("unknown field");
      const bool cond_ok_or_unknown = parsed.errors.empty() || only_unknown_fields(parsed);
      const bool any_unknown = !parsed.errors.empty() || !via_macros.empty() || output_unknown;
      if (cond_ok_or_unknown && (out || output_unknown) && any_unknown) {
        std::vector<std::string> why;
        auto add = [&why](const std::string& w) {
          if (std::find(why.begin(), why.end(), w) == why.end()) why.push_back(w);
        };
        for (const auto& e : parsed.errors) add(e.message);
        for (const auto& w : via_macros) add(w);
        if (output_unknown) add(out.error().second);
        std::string list;
        for (const auto& w : why) list += (list.empty() ? "" : "; ") + w;
        SourcePos where = !parsed.errors.empty() ? cond.at(parsed.errors.front().offset)
                          : !via_macros.empty()  ? def.condition.at(0)
                                                 : def.output_src.at(out.error().first);
        d_.warning(where, obj,
                   std::string("skipped (") + (def.skip_if_unknown_filter ? "skip-if-unknown-filter" : "--skip-unknown-fields") +
                       "): " + list);
        ++set_.skipped_rules;
        skipped_rules_[def.name] = list;
        return;
      }
    }
    report(parsed, cond, obj);
    // A macro's unknown field is reported here, by each rule that uses the macro, so that every
    // rule that cannot load says which field stops it (and where the macro has it).
    std::set<std::string> via_reported;
    for (const auto& w : via_macros)
      if (via_reported.insert(w).second) d_.error(def.condition.at(0), obj, w);
    if (!out) d_.error(def.output_src.at(out.error().first), obj, out.error().second);
    if (!parsed.ast || !via_macros.empty()) return;
    r.types = condition_types(*parsed.ast);
    r.views = condition_views(*parsed.ast);
    r.fields = condition_field_filters(*parsed.ast, r.types);
    auto node = compile_condition(*parsed.ast, r.types, &shared_checks_);
    if (!node) compile_error(node.error(), obj);
    if (!node || !out || !prio || !action) return;
    r.node = std::move(*node);
    if (r.types.none()) d_.warning(def.pos, obj, "the condition matches no event type kata-sentry produces; it never fires");
    else if (r.types == all_types()) d_.warning(def.pos, obj, "the condition does not restrict evt.type; it is evaluated for every event");
    r.output = std::move(*out);
    r.priority = *prio;
    r.action = *action;
    if (r.action == Action::deny) {
      auto specs = build_enforcement_specs(r.name, *parsed.ast);
      if (!specs) {
        d_.error(def.condition.at(0), obj, "action deny: " + specs.error().message);
        return;
      }
      r.enforcement = std::move(*specs);
    }
    set_.rules.push_back(std::move(r));
  }

  static std::optional<uint64_t> parse_duration(const std::string& s) {
    size_t i = 0;
    uint64_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) n = n * 10 + (s[i++] - '0');
    if (i == 0) return std::nullopt;
    std::string unit = s.substr(i);
    if (unit == "ms") return n * 1'000'000ull;
    if (unit == "s" || unit.empty()) return n * 1'000'000'000ull;
    if (unit == "m") return n * 60'000'000'000ull;
    if (unit == "h") return n * 3'600'000'000'000ull;
    return std::nullopt;
  }

  void skip_sequence(const SourcePos& where, const std::string& obj, const std::string& why) {
    d_.warning(where, obj, "skipped (--skip-unknown-fields): " + why);
    ++set_.skipped_sequences;
  }

  void build_sequence(SequenceDef& def) {
    std::string obj = "sequence '" + def.name + "'";
    Sequence s;
    s.name = def.name;
    s.desc = def.desc;
    s.file = def.file;
    s.pos = def.pos;
    s.tags = def.tags;
    s.enabled = def.enabled;
    bool ok = true;
    for (const auto& b : def.by) {
      auto f = resolve_field(b);
      if (!f) {
        d_.error(def.pos, obj, "by: " + f.error().message);
        ok = false;
      } else {
        s.by.push_back(std::move(*f));
      }
    }
    auto within = parse_duration(def.within);
    if (!within) {
      d_.error(def.pos, obj, "within: '" + def.within + "' is not a duration (e.g. 500ms, 30s, 5m)");
      ok = false;
    }
    auto prio = priority_from_name(def.priority);
    if (!prio) d_.error(def.pos, obj, "unknown priority '" + def.priority + "'");
    auto action = action_from_name(def.action);
    if (!action || *action == Action::deny) {
      d_.error(def.pos, obj, "action must be alert, kill or kill_sandbox (a sequence completes after the fact; deny is per event)");
      ok = false;
    }
    for (auto& st : def.steps) {
      SequenceStep step;
      if (!st.rule.empty()) {
        auto it = std::find_if(set_.rules.begin(), set_.rules.end(), [&](const Rule& r) { return r.name == st.rule; });
        if (it == set_.rules.end()) {
          if (auto sk = skipped_rules_.find(st.rule); sk != skipped_rules_.end()) {
            // The sequence cannot work without the step: leave it out whole, or fail.
            std::string why = "step rule '" + st.rule + "' was skipped: " + sk->second;
            if (options_.skip_unknown_fields) return skip_sequence(st.pos, obj, why);
            d_.error(st.pos, obj, why);
            ok = false;
            continue;
          }
          d_.error(st.pos, obj, "step names rule '" + st.rule + "', which is not defined (or failed to load)");
          ok = false;
          continue;
        }
        step.rule = st.rule;
        step.rule_index = static_cast<int>(it - set_.rules.begin());
        step.types = it->types;
        step.views = it->views;
        step.fields = it->fields;
      } else {
        std::vector<std::string> via_macros;
        unknown_via_macros_ = &via_macros;
        auto parsed = parse_condition(st.condition.text, context(SIZE_MAX, &st.condition));
        unknown_via_macros_ = nullptr;
        if (options_.skip_unknown_fields && (only_unknown_fields(parsed) || (parsed.errors.empty() && !via_macros.empty()))) {
          std::string why = !parsed.errors.empty() ? parsed.errors.front().message : via_macros.front();
          return skip_sequence(parsed.errors.empty() ? st.pos : st.condition.at(parsed.errors.front().offset), obj, why);
        }
        report(parsed, st.condition, obj);
        for (const auto& w : via_macros) d_.error(st.pos, obj, w);
        if (!via_macros.empty()) {
          ok = false;
          continue;
        }
        if (!parsed.ast) {
          ok = false;
          continue;
        }
        step.types = condition_types(*parsed.ast);
        step.views = condition_views(*parsed.ast);
        step.fields = condition_field_filters(*parsed.ast, step.types);
        auto node = compile_condition(*parsed.ast, step.types, &shared_checks_);
        if (!node) {
          compile_error(node.error(), obj);
          ok = false;
          continue;
        }
        step.condition = std::move(*node);
        step.condition_text = st.condition.text;
      }
      s.types |= step.types;
      s.steps.push_back(std::move(step));
    }
    auto out = OutputTemplate::parse(def.output);
    if (!out) {
      d_.error(def.output_src.at(out.error().first), obj, out.error().second);
      ok = false;
    }
    if (!ok || !prio || !action) return;
    s.within_ns = *within;
    s.priority = *prio;
    s.action = *action;
    s.output = std::move(*out);
    set_.sequences.push_back(std::move(s));
  }

  Diagnostics d_;
  std::vector<FileSummary> files_;
  std::string file_;
  const std::string* raw_ = nullptr;
  std::unordered_map<std::string, ListDef> lists_;
  std::vector<std::string> list_order_;
  std::unordered_map<std::string, std::vector<std::string>> flat_lists_;
  std::vector<MacroDef> macros_;
  std::unordered_map<std::string, size_t> macro_index_;
  std::vector<RuleDef> rules_;
  std::unordered_map<std::string, size_t> rule_index_;
  std::vector<SequenceDef> sequences_;
  std::set<std::string> warned_, compile_reported_;
  std::map<std::string, std::string> skipped_rules_;  // rule left out for unknown fields -> which
  RuleSet set_;
  SharedChecks shared_checks_;  // spans every rule and step compiled into set_
  const LoadOptions options_;
  // While a condition is parsed: the unknown fields of the macros it uses that could not load.
  std::vector<std::string>* unknown_via_macros_ = nullptr;
};

}  // namespace

LoadResult load_rules(const std::vector<RuleSource>& sources, const LoadOptions& options) {
  return Loader(options).run(sources);
}

Result<std::vector<RuleSource>> read_rule_sources(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) found.push_back(e.path().string());
      }
      if (ec) return fail(ErrorCode::io, "read rules directory " + p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<RuleSource> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return fail_errno("read rules file " + f);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back({f, ss.str()});
  }
  return out;
}

}  // namespace kata_sentry::policy
