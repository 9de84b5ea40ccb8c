// Small YAML config files (kata-sentryd's sentryd.yaml, the shim's shim.yaml) read strictly:
// the top level is a mapping of known keys, each with one type. An unknown key, a value of the
// wrong type or a choice outside its set is an error naming the file, line, column and key,
// and the known keys, so a typo never silently becomes a default. Values are written to their
// targets only when the whole file is valid: nothing is half-applied.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace YAML {
class Node;
}

namespace kata_sentry::config {

class StrictYaml {
 public:
  void string(std::string key, std::string* out);
  void boolean(std::string key, bool* out);
  void unsigned_int(std::string key, uint64_t* out, uint64_t min, uint64_t max);
  void number(std::string key, double* out, double min, double max);
  // A single string or a sequence of strings.
  void strings(std::string key, std::vector<std::string>* out);
  void choice(std::string key, std::vector<std::string> allowed, std::string* out);

  // A nested value (a section, a list of sections) read by `read`, which may use a StrictYaml of
  // its own on the node (load_node); the commit it returns runs only when the whole file is valid.
  using NodeReader = std::function<Result<std::function<void()>>(const YAML::Node& node, const std::string& origin)>;
  void nested(std::string key, NodeReader read);

  // Reads `path`. `missing_ok`: a file that does not exist leaves every target as it is.
  Status load_file(const std::filesystem::path& path, bool missing_ok);
  // `origin` names the text in errors (a file name).
  Status load_text(const std::string& text, const std::string& origin);
  // Reads one mapping node (a section of a file) with the declared keys; `origin` names the file.
  Status load_node(const YAML::Node& node, const std::string& origin);
  // "file:line:column" of a node, for errors of nested readers.
  static std::string where(const YAML::Node& node, const std::string& origin);

 private:
  // Parses a node into a pending value; the returned commit writes it to the target.
  using Parse = std::function<Result<std::function<void()>>(const YAML::Node&, const std::string& where, const std::string& origin)>;
  struct Key {
    std::string name;
    Parse parse;
  };
  std::string known_keys() const;
  std::vector<Key> keys_;
};

}  // namespace kata_sentry::config
