// A small flag parser shared by every `kata-sentry` subcommand, so that all of them
// treat flags the same way: `--name value` or `--name=value`, `-x` short aliases,
// `--` ending flags, generated `--help`, and one-line errors with exit status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kata_sentry::cli {

// Thrown by FlagParser::parse for a bad flag; main() prints "kata-sentry: <what>" and exits 2.
struct UsageError {
  std::string message;
};
// Thrown by parse() when --help was given, after the help text was printed; exit 0.
struct HelpShown {};

class FlagParser {
 public:
  // `usage`: e.g. "kata-sentry trace [flags]"; `summary`: what the command does, in a sentence or two.
  FlagParser(std::string usage, std::string summary);

  // Registers a flag. `name` without dashes ("duration"); `short_name` is one letter or
  // '\0'; `value_name` shows in --help ("SECONDS"). The target keeps its default unless given.
  void add_string(std::string name, char short_name, std::string value_name, std::string help, std::string* target);
  void add_int(std::string name, char short_name, std::string value_name, std::string help, int64_t* target);
  void add_bool(std::string name, char short_name, std::string help, bool* target);
  // Repeatable: each occurrence appends.
  void add_list(std::string name, char short_name, std::string value_name, std::string help, std::vector<std::string>* target);
  // One of a fixed set of words.
  void add_choice(std::string name, std::vector<std::string> choices, std::string help, std::string* target);
  // Free text appended to --help (examples, notes).
  void set_epilog(std::string text) { epilog_ = std::move(text); }

  // Parses argv[first..]; the rest (positional arguments, and everything after "--") is
  // returned. Throws UsageError or HelpShown.
  std::vector<std::string> parse(int argc, char** argv, int first = 1);
  std::string help_text() const;

 private:
  struct Flag {
    std::string name;
    char short_name;
    std::string value_name;  // empty for booleans
    std::string help;
    std::function<void(const std::string&)> set;
  };
  const Flag* find(const std::string& name) const;
  const Flag* find_short(char c) const;

  std::string usage_, summary_, epilog_;
  std::vector<Flag> flags_;
};

}  // namespace kata_sentry::cli
