#include "core/flags.h"

#include <cstdio>

#include <CLI/CLI.hpp>

namespace kata_sentry::cli {
namespace {

// CLI11's help, led by the command's own usage line (it names the subcommand and what follows
// "--", which CLI11 cannot know) and its summary.
class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter(std::string usage, std::string summary) : usage_(std::move(usage)), summary_(std::move(summary)) { column_width(30); }
  std::string make_description(const CLI::App*) const override { return ""; }
  std::string make_usage(const CLI::App*, std::string) const override { return "Usage: " + usage_ + "\n\n" + summary_ + "\n"; }

 private:
  std::string usage_, summary_;
};

std::string names(const std::string& name, char short_name) {
  return short_name ? std::string("-") + short_name + ",--" + name : "--" + name;
}

}  // namespace

FlagParser::FlagParser(std::string usage, std::string summary) : app_(std::make_unique<CLI::App>()) {
  app_->formatter(std::make_shared<HelpFormatter>(std::move(usage), std::move(summary)));
  app_->option_defaults()->group("Flags");
  app_->set_help_flag("-h,--help", "show this help");
  // Positional arguments and everything after "--" (a container's command); not listed in
  // --help, whose usage line names them.
  app_->add_option("args", rest_)->group("");
}

FlagParser::~FlagParser() = default;

void FlagParser::add_string(std::string name, char short_name, std::string value_name, std::string help, std::string* target) {
  app_->add_option(names(name, short_name), *target, std::move(help))->type_name(std::move(value_name))->take_last();
}

void FlagParser::add_int(std::string name, char short_name, std::string value_name, std::string help, int64_t* target) {
  app_->add_option(names(name, short_name), *target, std::move(help))->type_name(std::move(value_name))->take_last();
}

void FlagParser::add_bool(std::string name, char short_name, std::string help, bool* target) {
  app_->add_flag(names(name, short_name), *target, std::move(help));
}

void FlagParser::add_list(std::string name, char short_name, std::string value_name, std::string help,
                          std::vector<std::string>* target) {
  // One value per occurrence: "--rules a pos" leaves "pos" positional.
  app_->add_option(names(name, short_name), *target, std::move(help))->type_name(std::move(value_name))->allow_extra_args(false);
}

void FlagParser::add_choice(std::string name, std::vector<std::string> choices, std::string help, std::string* target) {
  std::string joined;
  for (const auto& c : choices) joined += (joined.empty() ? "" : "|") + c;
  // The value name lists the choices already: the check adds no text of its own to --help.
  app_->add_option("--" + name, *target, std::move(help))->type_name(joined)->check(CLI::IsMember(choices).description(""))->take_last();
}

void FlagParser::set_epilog(std::string text) { app_->footer(std::move(text)); }

std::vector<std::string> FlagParser::parse(int argc, char** argv, int first) {
  std::vector<std::string> args;  // CLI11 takes them last first
  for (int i = argc - 1; i >= first; --i) args.emplace_back(argv[i]);
  rest_.clear();
  try {
    app_->parse(args);
  } catch (const CLI::CallForHelp&) {
    std::fputs(help_text().c_str(), stdout);
    throw HelpShown{};
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    throw UsageError{(what.empty() ? e.get_name() : what) + " (see --help)"};
  }
  return rest_;
}

std::string FlagParser::help_text() const { return app_->help(); }

}  // namespace kata_sentry::cli
