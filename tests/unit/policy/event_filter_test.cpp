// A standalone condition (kata-trace --filter): Falco's language compiled once, located errors.
#include <gtest/gtest.h>

#include "policy-engine/event_filter.h"
#include "tests/support/event_builder.h"

namespace kata_sentry::policy {
namespace {

using kata_sentry::testing::EventBuilder;

TEST(EventFilter, MatchesWhatTheConditionSays) {
  auto f = EventFilter::compile("proc.name = cat and fd.name startswith /etc/");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->matches(EventBuilder().open("/etc/shadow").name("cat").guest().build()));
  EXPECT_FALSE(f->matches(EventBuilder().open("/tmp/x").name("cat").guest().build()));
  EXPECT_FALSE(f->matches(EventBuilder().open("/etc/shadow").name("ls").guest().build()));
}

TEST(EventFilter, UsesTheEventTypeIndexLikeRules) {
  auto f = EventFilter::compile("evt.type in (execve, execveat) and proc.name = cat");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_TRUE(f->matches(EventBuilder().exec("/bin/cat").build()));
  Event open = EventBuilder().open("/etc/x").name("cat").build();
  EXPECT_FALSE(f->matches(open));
  auto not_exec = EventFilter::compile("not evt.type = execve");
  ASSERT_TRUE(not_exec);
  EXPECT_TRUE(not_exec->matches(open));
  EXPECT_FALSE(not_exec->matches(EventBuilder().exec("/bin/cat").build()));
}

TEST(EventFilter, ErrorsNameTheColumnOfEachProblem) {
  auto f = EventFilter::compile("proc.name = cat and proc.nmae = ls");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(f.error().message.rfind("filter:1:21: ", 0), 0u) << f.error().message;
  EXPECT_NE(f.error().message.find("proc.nmae"), std::string::npos) << f.error().message;

  auto two = EventFilter::compile("proc.nmae = a or fd.nmae = b");
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().message.find("filter:1:1: "), std::string::npos) << two.error().message;
  EXPECT_NE(two.error().message.find("\nfilter:1:18: "), std::string::npos) << two.error().message;

  auto syntax = EventFilter::compile("proc.name = ", "--filter");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().message.rfind("--filter:1:", 0), 0u) << syntax.error().message;

  auto literal = EventFilter::compile("user.uid = abc");  // compile-time: the literal does not fit
  ASSERT_FALSE(literal);
  EXPECT_EQ(literal.error().message.rfind("filter:1:", 0), 0u) << literal.error().message;

  auto empty = EventFilter::compile("   ");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);

  auto macro = EventFilter::compile("spawned_process");  // no rules file: no macros
  ASSERT_FALSE(macro);
}

}  // namespace
}  // namespace kata_sentry::policy
