// The flag parser every kata-sentry executable shares (`kata-sentry` subcommands,
// `kata-sentryd`, the shim), so that all of them treat flags the same way. It is a thin
// front over CLI11 (the parser kata-trace uses): `--name value`, `--name=value`, `-x` short
// aliases, `--` ending flags, generated `--help` with the command's usage, summary and epilog,
// and one-line errors. Call sites register flags on plain variables and never see CLI11.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}

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
  ~FlagParser();
  FlagParser(const FlagParser&) = delete;
  FlagParser& operator=(const FlagParser&) = delete;

  // Registers a flag. `name` without dashes ("duration"); `short_name` is one letter or
  // '\0'; `value_name` shows in --help ("SECONDS"). The target keeps its default unless given.
  void add_string(std::string name, char short_name, std::string value_name, std::string help, std::string* target);
  void add_int(std::string name, char short_name, std::string value_name, std::string help, int64_t* target);
  void add_bool(std::string name, char short_name, std::string help, bool* target);
  // Repeatable: each occurrence appends one value.
  void add_list(std::string name, char short_name, std::string value_name, std::string help, std::vector<std::string>* target);
  // One of a fixed set of words.
  void add_choice(std::string name, std::vector<std::string> choices, std::string help, std::string* target);
  // Free text appended to --help (examples, notes).
  void set_epilog(std::string text);

  // Parses argv[first..]; the rest (positional arguments, and everything after "--") is
  // returned. Throws UsageError (one line, naming the flag) or HelpShown (help printed on stdout).
  std::vector<std::string> parse(int argc, char** argv, int first = 1);
  std::string help_text() const;

 private:
  std::unique_ptr<CLI::App> app_;
  std::vector<std::string> rest_;
};

}  // namespace kata_sentry::cli
