#include <gtest/gtest.h>

#include "core/flags.h"

namespace kata_sentry::cli {
namespace {

std::vector<std::string> run(FlagParser& p, std::vector<const char*> args) {
  std::vector<char*> argv;
  for (auto a : args) argv.push_back(const_cast<char*>(a));
  return p.parse(int(argv.size()), argv.data(), 1);
}

TEST(Flags, ParsesFormsAndStopsAtDoubleDash) {
  std::string fmt = "text", name;
  int64_t duration = 0;
  bool verbose = false;
  std::vector<std::string> rules;
  FlagParser p("t", "s");
  p.add_choice("format", {"json", "text"}, "output", &fmt);
  p.add_int("duration", 'd', "SECONDS", "how long", &duration);
  p.add_bool("verbose", 'v', "more", &verbose);
  p.add_list("rules", '\0', "FILE", "rules", &rules);
  p.add_string("name", '\0', "NAME", "name", &name);
  auto rest = run(p, {"x", "--format=json", "-d", "5", "-v", "--rules", "a", "--rules=b", "pos", "--", "--name", "y"});
  EXPECT_EQ(fmt, "json");
  EXPECT_EQ(duration, 5);
  EXPECT_TRUE(verbose);
  EXPECT_EQ(rules, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(name, "");
  EXPECT_EQ(rest, (std::vector<std::string>{"pos", "--name", "y"}));
}

TEST(Flags, ListsTakeOneValuePerOccurrenceAndTheLastScalarWins) {
  std::vector<std::string> rules;
  std::string id;
  bool verbose = false, interactive = false;
  FlagParser p("t", "s");
  p.add_list("rules", 'r', "FILE", "rules", &rules);
  p.add_string("id", '\0', "ID", "id", &id);
  p.add_bool("verbose", 'v', "more", &verbose);
  p.add_bool("interactive", 'i', "stdin", &interactive);
  auto rest = run(p, {"x", "--rules", "a", "pos", "-r", "b", "--id", "1", "--id=2", "-vi", "--", "-v"});
  EXPECT_EQ(rules, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(id, "2");
  EXPECT_TRUE(verbose);
  EXPECT_TRUE(interactive);
  EXPECT_EQ(rest, (std::vector<std::string>{"pos", "-v"}));
}

TEST(Flags, ParsesFromTheGivenArgumentOn) {
  int64_t n = 0;
  FlagParser p("t", "s");
  p.add_int("n", '\0', "N", "n", &n);
  std::vector<const char*> args = {"kata-sentry", "run", "--n", "3", "cmd"};
  std::vector<char*> argv;
  for (auto a : args) argv.push_back(const_cast<char*>(a));
  EXPECT_EQ(p.parse(int(argv.size()), argv.data(), 2), (std::vector<std::string>{"cmd"}));
  EXPECT_EQ(n, 3);
}

// The wording is CLI11's; what the callers rely on is one line that names the flag.
TEST(Flags, BadInputIsAUsageErrorOfOneLineNamingTheFlag) {
  int64_t n = 0;
  std::string fmt;
  FlagParser p("t", "s");
  p.add_int("n", '\0', "N", "n", &n);
  p.add_choice("format", {"json", "text"}, "f", &fmt);
  for (auto args : std::vector<std::vector<const char*>>{{"x", "--bogus"}, {"x", "--n", "abc"}, {"x", "--n"}, {"x", "--format", "xml"}}) {
    try {
      run(p, args);
      ADD_FAILURE() << "no error for " << args[1];
    } catch (const UsageError& e) {
      EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
      EXPECT_NE(e.message.find(args[1]), std::string::npos) << e.message;
    }
  }
}

TEST(Flags, HelpLeadsWithTheUsageAndEndsWithTheEpilog) {
  std::string fmt = "text";
  int64_t d = 0;
  FlagParser p("kata-sentry trace [flags]", "Prints live host events.");
  p.add_choice("format", {"json", "text"}, "output format", &fmt);
  p.add_int("duration", 'd', "SECONDS", "how long", &d);
  p.set_epilog("Examples:\n  kata-sentry trace -d 5");
  std::string help = p.help_text();
  EXPECT_EQ(help.rfind("Usage: kata-sentry trace [flags]\n\nPrints live host events.\n", 0), 0u) << help;
  EXPECT_NE(help.find("--format json|text"), std::string::npos) << help;
  EXPECT_NE(help.find("-d,--duration SECONDS"), std::string::npos) << help;
  EXPECT_NE(help.find("-h,--help"), std::string::npos) << help;
  EXPECT_NE(help.find("Examples:\n  kata-sentry trace -d 5"), std::string::npos) << help;
  EXPECT_GT(help.find("Examples:"), help.find("--duration")) << help;
  std::vector<const char*> args = {"x", "--help"};
  EXPECT_THROW(run(p, args), HelpShown);
}

}  // namespace
}  // namespace kata_sentry::cli
