#include "core/strict_yaml.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace kata_sentry::config {
namespace {

std::string at(const std::string& origin, const YAML::Mark& m) {
  return origin + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

Error bad(const std::string& where, const std::string& what) { return Error{ErrorCode::invalid_argument, 0, where + ": " + what}; }

Result<std::string> scalar(const YAML::Node& n, const std::string& where, const std::string& key) {
  if (!n.IsScalar()) return std::unexpected(bad(where, "'" + key + "' must be a single value"));
  return n.Scalar();
}

}  // namespace

void StrictYaml::string(std::string key, std::string* out) {
  keys_.push_back({key, [key, out](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     auto v = scalar(n, where, key);
                     if (!v) return std::unexpected(v.error());
                     return [out, s = *v] { *out = s; };
                   }});
}

void StrictYaml::boolean(std::string key, bool* out) {
  keys_.push_back({key, [key, out](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     auto v = scalar(n, where, key);
                     if (!v) return std::unexpected(v.error());
                     if (*v == "true") return [out] { *out = true; };
                     if (*v == "false") return [out] { *out = false; };
                     return std::unexpected(bad(where, "'" + key + "' must be true or false (got '" + *v + "')"));
                   }});
}

void StrictYaml::unsigned_int(std::string key, uint64_t* out, uint64_t min, uint64_t max) {
  keys_.push_back({key, [=](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     auto v = scalar(n, where, key);
                     if (!v) return std::unexpected(v.error());
                     size_t used = 0;
                     uint64_t x = 0;
                     try {
                       x = std::stoull(*v, &used);
                     } catch (...) {
                       used = 0;
                     }
                     if (v->empty() || used != v->size() || (*v)[0] == '-' || x < min || x > max)
                       return std::unexpected(bad(where, "'" + key + "' must be a whole number from " + std::to_string(min) +
                                                             " to " + std::to_string(max) + " (got '" + *v + "')"));
                     return [out, x] { *out = x; };
                   }});
}

void StrictYaml::number(std::string key, double* out, double min, double max) {
  keys_.push_back({key, [=](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     auto v = scalar(n, where, key);
                     if (!v) return std::unexpected(v.error());
                     size_t used = 0;
                     double x = 0;
                     try {
                       x = std::stod(*v, &used);
                     } catch (...) {
                       used = 0;
                     }
                     if (v->empty() || used != v->size() || !(x >= min && x <= max)) {
                       std::ostringstream range;
                       range << min << " to " << max;
                       return std::unexpected(bad(where, "'" + key + "' must be a number from " + range.str() + " (got '" + *v + "')"));
                     }
                     return [out, x] { *out = x; };
                   }});
}

void StrictYaml::strings(std::string key, std::vector<std::string>* out) {
  keys_.push_back({key, [key, out](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     std::vector<std::string> list;
                     if (n.IsScalar()) {
                       list.push_back(n.Scalar());
                     } else if (n.IsSequence()) {
                       for (const auto& item : n) {
                         if (!item.IsScalar())
                           return std::unexpected(bad(where, "'" + key + "' must be a list of strings"));
                         list.push_back(item.Scalar());
                       }
                     } else {
                       return std::unexpected(bad(where, "'" + key + "' must be a string or a list of strings"));
                     }
                     return [out, list] { *out = list; };
                   }});
}

void StrictYaml::choice(std::string key, std::vector<std::string> allowed, std::string* out) {
  keys_.push_back({key, [key, allowed, out](const YAML::Node& n, const std::string& where, const std::string&) -> Result<std::function<void()>> {
                     auto v = scalar(n, where, key);
                     if (!v) return std::unexpected(v.error());
                     for (const auto& a : allowed)
                       if (*v == a) return [out, s = *v] { *out = s; };
                     std::string list;
                     for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                     return std::unexpected(bad(where, "'" + key + "' must be one of " + list + " (got '" + *v + "')"));
                   }});
}

std::string StrictYaml::known_keys() const {
  std::string s;
  for (const auto& k : keys_) s += (s.empty() ? "" : ", ") + k.name;
  return s;
}

Status StrictYaml::load_file(const std::filesystem::path& path, bool missing_ok) {
  std::ifstream in(path);
  if (!in) {
    if (missing_ok && errno == ENOENT) return {};
    return fail_errno("config " + path.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_text(ss.str(), path.string());
}

void StrictYaml::nested(std::string key, NodeReader read) {
  keys_.push_back({key, [read](const YAML::Node& n, const std::string&, const std::string& origin) { return read(n, origin); }});
}

std::string StrictYaml::where(const YAML::Node& node, const std::string& origin) { return at(origin, node.Mark()); }

Status StrictYaml::load_text(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return std::unexpected(bad(at(origin, e.mark), "not valid YAML: " + e.msg));
  }
  if (root.IsNull()) return {};  // an empty file: every default stands
  if (!root.IsMap()) return std::unexpected(bad(origin + ":1:1", "the top level must be a mapping of keys to values"));
  return load_node(root, origin);
}

Status StrictYaml::load_node(const YAML::Node& root, const std::string& origin) {
  if (root.IsNull()) return {};
  if (!root.IsMap()) return std::unexpected(bad(at(origin, root.Mark()), "expected a mapping of keys to values"));
  std::vector<std::function<void()>> commits;
  std::vector<std::string> seen;
  for (const auto& kv : root) {
    std::string where = at(origin, kv.first.Mark());
    std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const Key* key = nullptr;
    for (const auto& k : keys_)
      if (k.name == name) key = &k;
    if (!key) return std::unexpected(bad(where, "unknown key '" + name + "' (known keys: " + known_keys() + ")"));
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return std::unexpected(bad(where, "key '" + name + "' is given twice"));
    seen.push_back(name);
    auto commit = key->parse(kv.second, at(origin, kv.second.Mark()), origin);
    if (!commit) return std::unexpected(commit.error());
    commits.push_back(std::move(*commit));
  }
  for (auto& c : commits) c();
  return {};
}

}  // namespace kata_sentry::config
