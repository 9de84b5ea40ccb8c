// condition_views: the engine's second index key. It may keep a rule for a view where the
// rule cannot match (over-approximation), never drop one where it can.
#include "policy-engine/view_index.h"

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

ViewSet views_of(const std::string& text) {
  ParseContext ctx;
  ctx.find_list = [](std::string_view) -> const std::vector<std::string>* { return nullptr; };
  ctx.find_macro = [](std::string_view) -> AstPtr { return nullptr; };
  auto r = parse_condition(text, ctx);
  EXPECT_TRUE(r.errors.empty()) << text;
  return r.ast ? condition_views(*r.ast) : ViewSet{};
}

const ViewSet kHost = ViewSet{}.set(static_cast<size_t>(View::host));
const ViewSet kGuest = ViewSet{}.set(static_cast<size_t>(View::guest));

TEST(ViewIndex, PureViewChecksNarrow) {
  EXPECT_EQ(views_of("view = guest and proc.name = sh"), kGuest);
  EXPECT_EQ(views_of("view = host and vmm.pid exists"), kHost);
  EXPECT_EQ(views_of("view != host"), kGuest);
  EXPECT_EQ(views_of("not view = guest"), kHost);
  EXPECT_EQ(views_of("not not view = guest"), kGuest);
  EXPECT_EQ(views_of("view in (host, guest)"), all_views());
  EXPECT_EQ(views_of("view = guest or view = host"), all_views());
  EXPECT_EQ(views_of("view = guest and view = host"), ViewSet{});
}

TEST(ViewIndex, AnythingElseKeepsBothViews) {
  EXPECT_EQ(views_of("proc.name = sh"), all_views());
  EXPECT_EQ(views_of("view = guest or proc.name = sh"), all_views());  // the or can hold on the host
  EXPECT_EQ(views_of("not (view = guest and proc.name = sh)"), all_views());
  EXPECT_EQ(views_of("view startswith g"), all_views());
  EXPECT_EQ(views_of("view = GUEST"), ViewSet{});  // compared exactly: no event has that view
}

// Through the engine: each rule still fires in its own view and only there.
TEST(ViewIndex, EngineOffersEachViewItsRules) {
  auto engine = engine_for(
      "- rule: G\n  desc: d\n  condition: evt.type = openat and view = guest\n  output: o\n  priority: INFO\n"
      "- rule: H\n  desc: d\n  condition: evt.type = openat and not view = guest\n  output: o\n  priority: INFO\n"
      "- rule: Any\n  desc: d\n  condition: evt.type = openat and (view = guest or fd.name = /x)\n  output: o\n  priority: INFO\n");
  auto guest = fired(engine, EventBuilder().open("/x").guest().build());
  auto host = fired(engine, EventBuilder().open("/x").host().build());
  EXPECT_EQ(guest, (std::vector<std::string>{"G", "Any"}));
  EXPECT_EQ(host, (std::vector<std::string>{"H", "Any"}));
  EXPECT_EQ(engine.stats().rule_evaluations, 4u);  // G and Any for the guest, H and Any for the host
}

}  // namespace
}  // namespace kata_sentry::policy::test
