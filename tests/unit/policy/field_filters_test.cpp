// field_filters_needed(): what the probes may require of a record's path and comm before they
// build it. Never narrower than what the rules can match, or an alert is lost in the kernel.
#include "policy-engine/field_filters.h"

#include "policy-engine/wanted_types.h"
#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

FieldFilters needed_for(const std::string& yaml, ViewSet views = all_views()) {
  auto r = load_text(yaml);
  EXPECT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  return field_filters_needed(r.rules, views);
}

std::string rule(const std::string& name, const std::string& condition) {
  return "- rule: " + name + "\n  desc: d\n  condition: " + condition + "\n  output: o\n  priority: INFO\n";
}

TEST(FieldFilters, EqualityInStartswithAndPmatchOnThePath) {
  auto f = needed_for(one_rule("evt.type = openat and (fd.name = /etc/shadow or fd.name in (/a, /b) or "
                               "fd.name startswith /root/ or fd.name pmatch (/proc/, /sys))"));
  EXPECT_EQ(describe_field_filters(f), "openat path=/a,/b,/etc/shadow,/proc*,/root/*,/sys*");
}

TEST(FieldFilters, DirectoryAndGlobBecomePrefixes) {
  auto f = needed_for(one_rule("evt.type = unlinkat and (fd.directory in (/etc, /) or fd.name glob '/var/*/log?')"));
  EXPECT_EQ(describe_field_filters(f), "unlinkat path=/*");  // "/" covers everything else
  auto g = needed_for(one_rule("evt.type = unlinkat and (fd.directory = /etc/ or fd.name glob '/var/*/log?')"));
  EXPECT_EQ(describe_field_filters(g), "unlinkat path=/etc/*,/var/*");
}

TEST(FieldFilters, CommFromProcName) {
  auto f = needed_for(one_rule("evt.type = connect and proc.name in (nginx, curl) and fd.name startswith 10."));
  // connect's fd.name is the peer address, not a path: no path condition.
  EXPECT_EQ(describe_field_filters(f), "connect comm=curl,nginx");
}

TEST(FieldFilters, AndKeepsTheNarrowestConjunct) {
  auto f = needed_for(one_rule("evt.type = openat and fd.name in (/a, /b, /c) and fd.name startswith /a"));
  EXPECT_EQ(describe_field_filters(f), "openat path=/a*");
}

TEST(FieldFilters, OrWithAnUnconstrainedSideAndNotAreUnconstrained) {
  EXPECT_EQ(describe_field_filters(needed_for(one_rule("evt.type = openat and (fd.name = /a or proc.name = x)"))), "");
  EXPECT_EQ(describe_field_filters(needed_for(one_rule("evt.type = openat and not fd.name startswith /a"))), "");
  EXPECT_EQ(describe_field_filters(needed_for(one_rule("evt.type = openat and fd.name != /a"))), "");
  EXPECT_EQ(describe_field_filters(needed_for(one_rule("evt.type = openat and fd.name contains passwd"))), "");
  EXPECT_EQ(describe_field_filters(needed_for(one_rule("evt.type = openat and tolower(fd.name) = /a"))), "");
}

// An alternative that cannot match the type says nothing about it.
TEST(FieldFilters, OrAlternativesArePerType) {
  auto f = needed_for(one_rule("(evt.type = openat and fd.name startswith /etc) or (evt.type = unlinkat)"));
  EXPECT_EQ(describe_field_filters(f), "openat path=/etc*");
}

TEST(FieldFilters, ExceptionsNarrowNothing) {
  auto f = needed_for(rule("R", "evt.type = openat and fd.name startswith /etc") +
                      "  exceptions:\n    - name: ok\n      fields: [proc.name]\n      values: [[sshd]]\n");
  EXPECT_EQ(describe_field_filters(f), "openat path=/etc*");
}

TEST(FieldFilters, TheUnionOfRulesAndNoneIfOneRuleHasNone) {
  auto both = needed_for(rule("A", "evt.type = openat and fd.name startswith /etc") +
                         rule("B", "evt.type in (openat, unlinkat) and fd.name = /root/x"));
  EXPECT_EQ(describe_field_filters(both), "openat path=/etc*,/root/x; unlinkat path=/root/x");
  auto open_any = needed_for(rule("A", "evt.type = openat and fd.name startswith /etc") + rule("B", "evt.type = openat"));
  EXPECT_EQ(describe_field_filters(open_any), "");
  // A rule with no evt.type constraint and no path condition lifts every type's path condition;
  // its comm condition is every type's but openat's (A needs no comm).
  auto all = needed_for(rule("A", "evt.type = openat and fd.name startswith /etc") + rule("B", "proc.name = x"));
  EXPECT_FALSE(all.count(EventType::openat));
  ASSERT_TRUE(all.count(EventType::unlinkat));
  EXPECT_FALSE(all[EventType::unlinkat].path);
  EXPECT_EQ(all[EventType::unlinkat].comm, (std::set<StringMatch>{{"x", false}}));
}

TEST(FieldFilters, DisabledRulesCountOnlyThroughSequences) {
  auto off = needed_for(rule("A", "evt.type = openat and fd.name = /a") + rule("B", "evt.type = openat") +
                        "- rule: B\n  enabled: false\n");
  EXPECT_EQ(describe_field_filters(off), "openat path=/a");
  auto seq = needed_for(rule("A", "evt.type = openat and fd.name = /a") + rule("B", "evt.type = openat") +
                        "- rule: B\n  enabled: false\n" +
                        "- sequence: S\n  within: 5s\n  steps:\n    - rule: B\n    - condition: evt.type = execve\n"
                        "  output: o\n  priority: INFO\n");
  EXPECT_EQ(describe_field_filters(seq), "");
}

TEST(FieldFilters, SequenceConditionStepsHaveTheirOwn) {
  auto f = needed_for("- sequence: S\n  within: 5s\n  steps:\n    - condition: evt.type = openat and fd.name = /x\n"
                      "    - condition: evt.type = execve\n  output: o\n  priority: INFO\n");
  EXPECT_EQ(describe_field_filters(f), "openat path=/x");
}

TEST(FieldFilters, PerView) {
  std::string y = rule("G", "view = guest and evt.type = openat and fd.name = /g") + rule("H", "view = host and evt.type = openat");
  EXPECT_EQ(describe_field_filters(needed_for(y, only_view(View::guest))), "openat path=/g");
  EXPECT_EQ(describe_field_filters(needed_for(y, only_view(View::host))), "");
  EXPECT_EQ(describe_field_filters(needed_for(y)), "");
}

TEST(FieldFilters, LongTextsBecomePrefixesAndLongListsNoCondition) {
  std::string long_path = "/" + std::string(100, 'p');
  auto f = needed_for(one_rule("evt.type = openat and fd.name = " + long_path + " and proc.name = averyveryverylongname"));
  ASSERT_EQ(f.size(), 1u);
  const auto& tf = f.begin()->second;
  ASSERT_TRUE(tf.path && tf.comm);
  EXPECT_EQ(*tf.path, (std::set<StringMatch>{{long_path.substr(0, kFilterPathText), true}}));
  EXPECT_EQ(*tf.comm, (std::set<StringMatch>{{"averyveryverylo", true}}));
  EXPECT_TRUE(passes(tf.path, long_path));

  std::string list;
  for (int i = 0; i < 40; ++i) list += (list.empty() ? "/f" : ", /f") + std::to_string(i);
  EXPECT_TRUE(needed_for(one_rule("evt.type = openat and fd.name in (" + list + ")")).empty());
}

TEST(FieldFilters, BoundedDropsCoveredEntriesAndAnEmptyPrefixLiftsAll) {
  StringMatches m = std::set<StringMatch>{{"/etc", true}, {"/etc/passwd", false}, {"/etc/ssh/", true}, {"/var", false}};
  EXPECT_EQ(*bounded(m, kFilterPathText), (std::set<StringMatch>{{"/etc", true}, {"/var", false}}));
  EXPECT_FALSE(bounded(std::set<StringMatch>{{"", true}}, kFilterPathText));
  EXPECT_FALSE(unite(m, std::nullopt, kFilterPathText));
}

TEST(FieldFilters, UniteKeepsEachConsumersOwnTypes) {
  TypeMask a_types, b_types;
  a_types.set(static_cast<size_t>(EventType::openat));
  b_types.set(static_cast<size_t>(EventType::openat)).set(static_cast<size_t>(EventType::unlinkat));
  FieldFilters a{{EventType::openat, {std::set<StringMatch>{{"/a", true}}, std::nullopt}}};
  FieldFilters b{{EventType::openat, {std::set<StringMatch>{{"/b", true}}, std::nullopt}},
                 {EventType::unlinkat, {std::set<StringMatch>{{"/c", false}}, std::nullopt}}};
  EXPECT_EQ(describe_field_filters(unite(a_types, a, b_types, b)), "openat path=/a*,/b*; unlinkat path=/c");
  // a wants unlinkat with no condition: b's cannot stand.
  a_types.set(static_cast<size_t>(EventType::unlinkat));
  EXPECT_EQ(describe_field_filters(unite(a_types, a, b_types, b)), "openat path=/a*,/b*");
}

// Falco's own rules, read in place: they load, every constrained type is one the rules want,
// every set fits the kernel, and a rule's own matching event always passes its type's filter.
TEST(FieldFilters, FalcoRulesYieldBoundedSoundFilters) {
  auto r = load_rules(sources_or_die({KS_FALCO_RULES}));
  ASSERT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  auto f = field_filters_needed(r.rules.rules.empty() ? RuleSet{} : r.rules);
  auto types = types_needed(r.rules);
  for (const auto& [t, tf] : f) {
    EXPECT_TRUE(types.test(static_cast<size_t>(t))) << event_type_name(t);
    for (const auto* m : {&tf.path, &tf.comm}) {
      if (!*m) continue;
      EXPECT_FALSE((*m)->empty());
      EXPECT_LE((*m)->size(), kFilterMaxPerField);
      for (const auto& s : **m) EXPECT_LE(s.text.size(), m == &tf.path ? kFilterPathText : kFilterCommText) << s.text;
    }
  }
  // Falco matches opens of any path (Read sensitive file untrusted...) and execs by name: the
  // open family keeps no path condition, and no process-lifecycle type is filtered by comm.
  EXPECT_FALSE(f.count(EventType::openat)) << describe_field_filters(f);
  EXPECT_FALSE(f.count(EventType::execve)) << describe_field_filters(f);
  // The event that fires "Directory traversal monitored file read" passes.
  auto e = EventBuilder().open("/etc/../etc/../etc/shadow").name("php").parent("php-fpm").build();
  auto it = f.find(e.type);
  if (it != f.end()) {
    EXPECT_TRUE(passes(it->second.path, e.path));
    EXPECT_TRUE(passes(it->second.comm, e.proc.name));
  }
  std::cout << "falco: " << describe_field_filters(f) << "\n";
}

}  // namespace
}  // namespace kata_sentry::policy::test
