// Shared checks: decided once per event, never carried to the next event, and only for
// checks that really are twins.
#include "policy-engine/check_memo.h"

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

TEST(CheckMemo, AnswersOncePerEventAndForgetsOnTheNext) {
  CheckMemo memo;
  memo.resize(2);
  int calls = 0;
  auto yes = [&] { ++calls; return true; };
  auto no = [&] { ++calls; return false; };
  memo.next_event();
  EXPECT_TRUE(memo.get(0, yes));
  EXPECT_TRUE(memo.get(0, no));  // remembered: not asked again
  EXPECT_FALSE(memo.get(1, no));
  EXPECT_FALSE(memo.get(1, yes));
  EXPECT_EQ(calls, 2);
  memo.next_event();
  EXPECT_FALSE(memo.get(0, no));  // a new event asks again
  EXPECT_EQ(calls, 3);
}

TEST(CheckMemo, SlotBeyondTheTableIsAlwaysComputed) {
  CheckMemo memo;  // no slots: a condition compiled outside a rule set
  int calls = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(memo.get(kNoMemoSlot, [&] { ++calls; return true; }));
  EXPECT_EQ(calls, 3);
}

TEST(CheckMemo, AnswersStayCorrectAcrossTheGenerationWrap) {
  CheckMemo memo(CheckMemo::kGenerationLimit - 2);
  memo.resize(1);
  memo.next_event();  // the last generation before the limit
  EXPECT_TRUE(memo.get(0, [] { return true; }));
  memo.next_event();  // wraps to 1; the entry written at the limit must not survive
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(memo.get(0, [] { return false; })) << i;
    memo.next_event();
  }
}

TEST(SharedChecks, OnlyTwinsGetSlots) {
  SharedChecks shared;
  uint32_t once = kNoMemoSlot, a = kNoMemoSlot, b = kNoMemoSlot, c = kNoMemoSlot;
  shared.add("proc.name=nginx", &once);
  shared.add("view=guest", &a);
  shared.add("view=guest", &b);
  shared.add("view=guest", &c);
  EXPECT_EQ(a, kNoMemoSlot);  // nothing is written before assign
  EXPECT_EQ(shared.assign(), 1u);
  EXPECT_EQ(once, kNoMemoSlot);
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 0u);
  EXPECT_EQ(c, 0u);
}

// Two rules share `proc.name = nginx` and `fd.name startswith /etc/`: consecutive events
// that flip each shared check must each get their own answer.
TEST(SharedChecks, EngineNeverReusesAnAnswerAcrossEvents) {
  const std::string yaml =
      "- rule: A\n  desc: d\n  condition: evt.type = openat and proc.name = nginx and fd.name startswith /etc/\n"
      "  output: o\n  priority: INFO\n"
      "- rule: B\n  desc: d\n  condition: evt.type = openat and proc.name = nginx and not fd.name startswith /etc/\n"
      "  output: o\n  priority: INFO\n"
      "- rule: C\n  desc: d\n  condition: evt.type = openat and not proc.name = nginx and fd.name startswith /etc/\n"
      "  output: o\n  priority: INFO\n";
  auto loaded = load_text(yaml);
  ASSERT_FALSE(loaded.diagnostics.has_errors()) << diagnostics_text(loaded);
  EXPECT_EQ(loaded.rules.shared_check_slots, 2u);
  Engine engine(std::move(loaded.rules), {});
  struct Case {
    std::string name, path, fires;
  };
  const Case cases[] = {{"nginx", "/etc/passwd", "A"}, {"nginx", "/var/x", "B"}, {"cat", "/etc/passwd", "C"},
                        {"cat", "/var/x", ""},         {"nginx", "/etc/x", "A"}, {"nginx", "/etc/x", "A"},
                        {"cat", "/etc/x", "C"},        {"nginx", "/tmp", "B"}};
  for (const auto& c : cases) {
    auto names = fired(engine, EventBuilder().open(c.path).name(c.name).build());
    std::string got;
    for (const auto& n : names) got += n;
    EXPECT_EQ(got, c.fires) << c.name << " " << c.path;
  }
}

TEST(SharedChecks, FalcoAndDefaultRulesShareChecks) {
  auto r = load_rules(sources_or_die({KS_FALCO_RULES, KS_DEFAULT_RULES_DIR}));
  ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  EXPECT_GT(r.rules.shared_check_slots, 10u);  // view = guest, container.id != host, fd.typechar = f, ...
}

}  // namespace
}  // namespace kata_sentry::policy::test
