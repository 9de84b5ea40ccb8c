#include "core/flags.h"

#include <charconv>
#include <cstdio>

namespace kata_sentry::cli {

FlagParser::FlagParser(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagParser::add_string(std::string name, char short_name, std::string value_name, std::string help,
                            std::string* target) {
  flags_.push_back({std::move(name), short_name, std::move(value_name), std::move(help),
                    [target](const std::string& v) { *target = v; }});
}

void FlagParser::add_int(std::string name, char short_name, std::string value_name, std::string help,
                         int64_t* target) {
  std::string flag = name;
  flags_.push_back({std::move(name), short_name, std::move(value_name), std::move(help),
                    [target, flag](const std::string& v) {
                      int64_t out = 0;
                      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
                      if (ec != std::errc() || ptr != v.data() + v.size() || v.empty())
                        throw UsageError{"--" + flag + " wants an integer, not \"" + v + "\""};
                      *target = out;
                    }});
}

void FlagParser::add_bool(std::string name, char short_name, std::string help, bool* target) {
  flags_.push_back({std::move(name), short_name, "", std::move(help), [target](const std::string&) { *target = true; }});
}

void FlagParser::add_list(std::string name, char short_name, std::string value_name, std::string help,
                          std::vector<std::string>* target) {
  flags_.push_back({std::move(name), short_name, std::move(value_name), std::move(help),
                    [target](const std::string& v) { target->push_back(v); }});
}

void FlagParser::add_choice(std::string name, std::vector<std::string> choices, std::string help,
                            std::string* target) {
  std::string joined;
  for (const auto& c : choices) joined += (joined.empty() ? "" : "|") + c;
  std::string flag = name;
  flags_.push_back({std::move(name), '\0', joined, std::move(help),
                    [target, choices, flag, joined](const std::string& v) {
                      for (const auto& c : choices)
                        if (c == v) {
                          *target = v;
                          return;
                        }
                      throw UsageError{"--" + flag + " must be one of " + joined + ", not \"" + v + "\""};
                    }});
}

const FlagParser::Flag* FlagParser::find(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

const FlagParser::Flag* FlagParser::find_short(char c) const {
  for (const auto& f : flags_)
    if (f.short_name == c) return &f;
  return nullptr;
}

std::vector<std::string> FlagParser::parse(int argc, char** argv, int first) {
  std::vector<std::string> rest;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) rest.emplace_back(argv[i]);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(help_text().c_str(), stdout);
      throw HelpShown{};
    }
    const Flag* flag = nullptr;
    std::string value;
    bool has_value = false;
    if (arg.starts_with("--")) {
      auto eq = arg.find('=');
      std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      flag = find(name);
      if (!flag) throw UsageError{"unknown flag --" + name + " (see --help)"};
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      flag = find_short(arg[1]);
      if (!flag) throw UsageError{"unknown flag " + arg + " (see --help)"};
    } else {
      rest.push_back(arg);
      continue;
    }
    if (flag->value_name.empty()) {
      if (has_value) throw UsageError{"--" + flag->name + " takes no value"};
      flag->set("");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError{"--" + flag->name + " needs a value (" + flag->value_name + ")"};
      value = argv[++i];
    }
    flag->set(value);
  }
  return rest;
}

std::string FlagParser::help_text() const {
  std::string out = "Usage: " + usage_ + "\n\n" + summary_ + "\n\nFlags:\n";
  for (const auto& f : flags_) {
    std::string left = "  ";
    left += f.short_name ? std::string("-") + f.short_name + ", " : "    ";
    left += "--" + f.name;
    if (!f.value_name.empty()) left += " " + f.value_name;
    if (left.size() < 30) left.resize(30, ' ');
    else left += "\n" + std::string(30, ' ');
    out += left + f.help + "\n";
  }
  out += "  -h, --help                  show this help\n";
  if (!epilog_.empty()) out += "\n" + epilog_ + "\n";
  return out;
}

}  // namespace kata_sentry::cli
