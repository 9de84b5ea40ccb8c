// check_order: and/or operands run most-likely-decisive first. Order must never change an
// answer; these tests pin the guesses that make Falco's rules cheap and check that the
// reordered conditions still decide every event as written.
#include "policy-engine/check_order.h"

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

AstPtr parse(const std::string& text) {
  ParseContext ctx;
  ctx.find_list = [](std::string_view) -> const std::vector<std::string>* { return nullptr; };
  ctx.find_macro = [](std::string_view) -> AstPtr { return nullptr; };
  auto r = parse_condition(text, ctx);
  EXPECT_TRUE(r.errors.empty()) << text << ": " << (r.errors.empty() ? "" : r.errors[0].message);
  return r.ast;
}

std::vector<std::string> ordered_fields(const std::string& text, bool is_and) {
  AstPtr a = parse(text);
  std::vector<AstPtr> kids = a->kids;
  order_operands(kids, is_and);
  std::vector<std::string> out;
  for (const auto& k : kids) out.push_back(k->kind == Ast::Kind::not_ ? "not " + k->kids[0]->lhs.field.text : k->lhs.field.text);
  return out;
}

TEST(CheckOrder, MatchingALiteralIsGuessedRarerThanItsNegation) {
  EXPECT_LT(estimate(*parse("fd.name in (/etc/shadow, /etc/sudoers)")).p_true, 0.5);
  EXPECT_GT(estimate(*parse("not proc.name in (sshd, sudo)")).p_true, 0.5);
  EXPECT_GT(estimate(*parse("container.id != host")).p_true, 0.5);
  EXPECT_LT(estimate(*parse("fd.name startswith /proc/sys/")).p_true, 0.5);
}

TEST(CheckOrder, AnAndRunsTheSelectiveCheckBeforeTheExclusions) {
  // Written exclusions first, as Falco's rules often are; the rare match should lead.
  EXPECT_EQ(ordered_fields("not proc.name in (a, b) and container.id != host and fd.name = /etc/shadow", true),
            (std::vector<std::string>{"fd.name", "not proc.name", "container.id"}));
}

TEST(CheckOrder, AnOrRunsTheLikelyTrueCheckFirst) {
  EXPECT_EQ(ordered_fields("fd.name = /etc/shadow or container.id != host", false),
            (std::vector<std::string>{"container.id", "fd.name"}));
}

TEST(CheckOrder, CheaperCheckFirstWhenEquallyLikely) {
  // A cmdline is built per event; a pid is read.
  EXPECT_EQ(ordered_fields("proc.cmdline = \"sh -c x\" and proc.pid = 7", true),
            (std::vector<std::string>{"proc.pid", "proc.cmdline"}));
}

TEST(CheckOrder, TiesKeepTheWrittenOrder) {
  EXPECT_EQ(ordered_fields("proc.name = a and fd.name = b and container.id = c", true),
            (std::vector<std::string>{"proc.name", "fd.name", "container.id"}));
}

// Whatever the order, each event gets the answer the condition gives as written: every
// combination of three checks that the ordering moves around, through the engine.
TEST(CheckOrder, ReorderedConditionsDecideAsWritten) {
  auto engine = engine_for(one_rule(
      "evt.type = openat and not proc.name in (sshd, sudo) and container.id != host and "
      "(fd.name = /etc/shadow or fd.name startswith /root/.ssh/)"));
  for (std::string name : {"cat", "sshd"})
    for (bool in_container : {false, true})
      for (std::string path : {"/etc/shadow", "/root/.ssh/id_rsa", "/etc/shadow2", "/root/.sshx"}) {
        EventBuilder b;
        b.open(path).name(name);
        if (in_container) b.container("c1");
        bool want = name != "sshd" && in_container && (path == "/etc/shadow" || path.starts_with("/root/.ssh/"));
        EXPECT_EQ(has(fired(engine, b.build()), "R"), want) << name << " " << in_container << " " << path;
      }
}

}  // namespace
}  // namespace kata_sentry::policy::test
