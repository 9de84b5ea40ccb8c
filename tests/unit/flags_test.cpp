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

TEST(Flags, BadInputIsAUsageError) {
  int64_t n = 0;
  std::string fmt;
  FlagParser p("t", "s");
  p.add_int("n", '\0', "N", "n", &n);
  p.add_choice("format", {"json", "text"}, "f", &fmt);
  EXPECT_THROW(run(p, {"x", "--bogus"}), UsageError);
  EXPECT_THROW(run(p, {"x", "--n", "abc"}), UsageError);
  EXPECT_THROW(run(p, {"x", "--n"}), UsageError);
  EXPECT_THROW(run(p, {"x", "--format", "xml"}), UsageError);
}

}  // namespace
}  // namespace kata_sentry::cli
