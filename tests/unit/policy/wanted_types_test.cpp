// types_needed(): the event types the probes must keep building for a rule set. Never narrower
// than the engine's index, or an alert would be lost in the kernel.
#include "policy-engine/wanted_types.h"

#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

bool wants(const TypeSet& s, EventType t) { return s.test(static_cast<size_t>(t)); }

TypeSet needed_for(const std::string& yaml) {
  auto r = load_text(yaml);
  EXPECT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  return types_needed(r.rules);
}

TEST(WantedTypes, OnlyTheTypesTheRulesName) {
  auto s = needed_for(one_rule("evt.type in (openat, connect) and proc.name = nginx") +
                      "- rule: Exec\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n");
  EXPECT_EQ(describe_types(s), "execve,openat,connect");
  EXPECT_FALSE(wants(s, EventType::mount));
}

TEST(WantedTypes, ARuleWithoutTypeConstraintWantsEverything) {
  auto s = needed_for(one_rule("proc.name = nginx"));
  EXPECT_EQ(s & all_types(), all_types());
  EXPECT_EQ(describe_types(s), "all");
}

TEST(WantedTypes, NegatedTypeCheckWantsTheComplement) {
  auto s = needed_for(one_rule("evt.type != openat"));
  EXPECT_FALSE(wants(s, EventType::openat));
  EXPECT_TRUE(wants(s, EventType::connect));
  EXPECT_TRUE(wants(s, EventType::lsm_file_open));
}

TEST(WantedTypes, DisabledRulesWantNothingButSequenceStepsDo) {
  auto off = needed_for(one_rule("evt.type = mount") + "- rule: R\n  enabled: false\n");
  EXPECT_EQ(describe_types(off), "none");

  // A disabled rule that a sequence names still feeds the sequence's step.
  auto seq = needed_for(one_rule("evt.type = init_module") + "- rule: R\n  enabled: false\n" +
                        "- sequence: S\n  within: 5s\n  steps:\n    - rule: R\n    - condition: evt.type = execve\n"
                        "  output: o\n  priority: INFO\n");
  EXPECT_EQ(describe_types(seq), "execve,init_module");
}

// Each kernel builds only its own view's types: a rule or sequence step that begins with a
// view check asks nothing of the other kernel.
TEST(WantedTypes, PerViewOnlyWhatThatViewsRulesAndStepsCanMatch) {
  auto r = load_text(one_rule("view = guest and evt.type = mount") +
                     "- rule: Host\n  desc: d\n  condition: view = host and evt.type = connect\n  output: o\n  priority: INFO\n"
                     "- rule: Both\n  desc: d\n  condition: evt.type = ptrace\n  output: o\n  priority: INFO\n"
                     "- sequence: S\n  within: 5s\n  steps:\n    - rule: Host\n    - condition: view = guest and evt.type = execve\n"
                     "  output: o\n  priority: INFO\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  EXPECT_EQ(describe_types(types_needed(r.rules, only_view(View::host))), "connect,ptrace");
  EXPECT_EQ(describe_types(types_needed(r.rules, only_view(View::guest))), "execve,ptrace,mount");
  EXPECT_EQ(describe_types(types_needed(r.rules)), "execve,connect,ptrace,mount");
}

TEST(WantedTypes, NoRulesWantNothing) { EXPECT_EQ(describe_types(types_needed(RuleSet{})), "none"); }

// Falco's stable rules and ours together: a closed set, not "all" (no rule of either is
// unconstrained), with the types their techniques need.
TEST(WantedTypes, FalcoStableAndDefaultRules) {
  auto r = load_rules(sources_or_die({KS_FALCO_RULES, KS_DEFAULT_RULES_DIR "/kata_sentry_rules.yaml"}));
  ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  TypeSet s = types_needed(r.rules);
  for (const auto& rule : r.rules.rules) {
    if (!rule.enabled) continue;
    EXPECT_EQ(rule.types & ~s, TypeSet{}) << rule.name << " would lose events";
  }
  for (EventType t : {EventType::execve, EventType::openat, EventType::connect, EventType::ptrace, EventType::mount,
                      EventType::init_module, EventType::unlinkat})
    EXPECT_TRUE(wants(s, t)) << event_type_name(t);
  EXPECT_NE(s & all_types(), all_types()) << describe_types(s);
  std::cout << "wanted by Falco stable + kata-sentry rules (" << s.count() << " of " << all_types().count()
            << " types): " << describe_types(s) << "\n";
}

}  // namespace
}  // namespace kata_sentry::policy::test
