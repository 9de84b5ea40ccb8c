// Loading: Falco's item semantics (append, override, replacement, macro visibility,
// exceptions, enabled, priorities) and golden error messages with positions.
#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

const Rule* find_rule(const LoadResult& r, const std::string& name) {
  for (const auto& x : r.rules.rules)
    if (x.name == name) return &x;
  return nullptr;
}

constexpr const char* kBase = R"(
- list: shells
  items: [sh]
- macro: is_shell
  condition: proc.name in (shells)
- rule: Shell
  desc: a shell
  condition: evt.type = execve and is_shell
  output: shell %proc.name
  priority: warning
  tags: [a]
)";

TEST(Loader, ListAppendAndOverride) {
  auto e = engine_for(std::string(kBase) + "- list: shells\n  items: [bash]\n  append: true\n");
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/bash")), "Shell"));
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/sh")), "Shell"));
  auto o = engine_for(std::string(kBase) + "- list: shells\n  items: [zsh]\n  override:\n    items: replace\n");
  EXPECT_FALSE(has(fired(o, EventBuilder().exec("/bin/sh")), "Shell"));
  EXPECT_TRUE(has(fired(o, EventBuilder().exec("/bin/zsh")), "Shell"));
}

TEST(Loader, MacroAppendAndReplace) {
  auto a = engine_for(std::string(kBase) + "- macro: is_shell\n  condition: or proc.name = ksh\n  append: true\n");
  EXPECT_TRUE(has(fired(a, EventBuilder().exec("/bin/ksh")), "Shell"));
  auto r = engine_for(std::string(kBase) + "- macro: is_shell\n  condition: proc.name = ksh\n");
  EXPECT_FALSE(has(fired(r, EventBuilder().exec("/bin/sh")), "Shell")) << "a later definition replaces";
  EXPECT_TRUE(has(fired(r, EventBuilder().exec("/bin/ksh")), "Shell"));
}

TEST(Loader, RuleAppendAndOverride) {
  auto a = engine_for(std::string(kBase) + "- rule: Shell\n  condition: and user.uid = 0\n  append: true\n");
  EXPECT_TRUE(has(fired(a, EventBuilder().exec("/bin/sh").uid(0)), "Shell"));
  EXPECT_FALSE(has(fired(a, EventBuilder().exec("/bin/sh").uid(5)), "Shell"));

  auto o = load_text(std::string(kBase) +
                     "- rule: Shell\n  condition: and user.uid = 5\n  output: and more\n  priority: CRITICAL\n"
                     "  tags: [b]\n  override:\n    condition: append\n    output: append\n    priority: replace\n    tags: append\n");
  ASSERT_FALSE(o.diagnostics.has_errors()) << diagnostics_text(o);
  const Rule* r = find_rule(o, "Shell");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->priority, Priority::critical);
  EXPECT_EQ(r->output.text(), "shell %proc.name and more");
  EXPECT_EQ(r->tags, (std::vector<std::string>{"a", "b"}));
  Engine e(o.rules, {});
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/sh").uid(5)), "Shell"));
  EXPECT_FALSE(has(fired(e, EventBuilder().exec("/bin/sh").uid(0)), "Shell"));

  auto rep = engine_for(std::string(kBase) +
                        "- rule: Shell\n  condition: evt.type = execve and proc.name = ksh\n  override:\n    condition: replace\n");
  EXPECT_TRUE(has(fired(rep, EventBuilder().exec("/bin/ksh")), "Shell"));
  EXPECT_FALSE(has(fired(rep, EventBuilder().exec("/bin/sh")), "Shell"));
}

TEST(Loader, EnabledAndLaterDefinitionReplaces) {
  auto off = engine_for(std::string(kBase) + "- rule: Shell\n  enabled: false\n");
  EXPECT_TRUE(fired(off, EventBuilder().exec("/bin/sh")).empty());
  auto again = load_text(std::string(kBase) +
                         "- rule: Shell\n  desc: d2\n  condition: evt.type = execve and proc.name = ksh\n  output: o\n  priority: info\n");
  ASSERT_FALSE(again.diagnostics.has_errors());
  EXPECT_EQ(again.rules.rules.size(), 1u);
  EXPECT_EQ(again.rules.rules[0].priority, Priority::informational);
}

TEST(Loader, PrioritiesAreCaseInsensitive) {
  for (auto [text, p] : {std::pair{"EMERGENCY", Priority::emergency}, {"alert", Priority::alert},
                         {"Critical", Priority::critical}, {"ERROR", Priority::error}, {"warning", Priority::warning},
                         {"NOTICE", Priority::notice}, {"Informational", Priority::informational},
                         {"INFO", Priority::informational}, {"debug", Priority::debug}}) {
    auto r = load_text("- rule: R\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: " + std::string(text) + "\n");
    ASSERT_FALSE(r.diagnostics.has_errors()) << text << diagnostics_text(r);
    EXPECT_EQ(r.rules.rules[0].priority, p) << text;
  }
}

TEST(Loader, Exceptions) {
  auto e = engine_for(std::string(kBase) + R"(
- rule: Shell
  exceptions:
    - name: trusted_parent
      fields: [proc.pname, user.uid]
      comps: [=, =]
      values:
        - [cron, 0]
    - name: by_name
      fields: proc.pname
      values: [sshd, login]
  override:
    exceptions: append
)");
  EXPECT_FALSE(has(fired(e, EventBuilder().exec("/bin/sh").parent("cron").uid(0)), "Shell"));
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/sh").parent("cron").uid(1)), "Shell"));
  EXPECT_FALSE(has(fired(e, EventBuilder().exec("/bin/sh").parent("login")), "Shell"));
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/sh").parent("nginx")), "Shell"));
}

TEST(Loader, MacrosSeeOnlyEarlierMacros) {
  auto r = load_text(R"(
- macro: a
  condition: b and proc.name = x
- macro: b
  condition: evt.type = execve
)");
  EXPECT_TRUE(r.diagnostics.has_errors());
  EXPECT_EQ(diagnostics_text(r), "test.yaml:3:14: error: macro 'a': undefined macro 'b'\n");
}

TEST(Loader, SkipIfUnknownFilter) {
  auto r = load_text("- rule: R\n  desc: d\n  condition: evt.type = execve and proc.future_field = 1\n  output: o\n"
                     "  priority: info\n  skip-if-unknown-filter: true\n");
  EXPECT_FALSE(r.diagnostics.has_errors()) << diagnostics_text(r);
  EXPECT_TRUE(r.rules.rules.empty());
  EXPECT_GE(r.diagnostics.warning_count(), 1u);
}

TEST(Loader, RequiredEngineVersion) {
  EXPECT_FALSE(load_text("- required_engine_version: 0.31.0\n").diagnostics.has_errors());
  auto r = load_text("- required_engine_version: 9.0.0\n");
  EXPECT_EQ(diagnostics_text(r), "test.yaml:1:28: error: requires engine version 9.0.0, this engine implements 0.57.0\n");
  // Falco's pre-semver engine versions: a bare number N is 0.N.0, so an older rules file
  // that asks for 26 loads, and one that asks for more than this engine's minor does not.
  auto old = load_text("- required_engine_version: 26\n");
  EXPECT_FALSE(old.diagnostics.has_errors()) << diagnostics_text(old);
  EXPECT_EQ(diagnostics_text(load_text("- required_engine_version: 58\n")),
            "test.yaml:1:28: error: requires engine version 58, this engine implements 0.57.0\n");
  EXPECT_FALSE(load_text("- required_engine_version: 57\n").diagnostics.has_errors());
  EXPECT_EQ(diagnostics_text(load_text("- required_engine_version: latest\n")),
            "test.yaml:1:28: error: required_engine_version 'latest' is neither a number nor an x.y.z version\n");
  EXPECT_TRUE(load_text("- required_engine_version: 0.57\n").diagnostics.has_errors());
}

// Falco's skip-if-unknown-filter: a rule whose condition (macros, exceptions) or output names a
// field kata-sentry does not know is left out whole, with a warning naming the field; anything
// that depends on it goes with it; without the option each such rule is an error naming the
// rule and the field.
constexpr const char* kUnknownFieldRules = R"(- macro: reads_class_file
  condition: evt.buffer bcontains cafebabe
- rule: Via macro
  desc: d
  condition: evt.type = recvfrom and reads_class_file
  output: o
  priority: WARNING
- rule: In output
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: "payload %evt.buffer"
  priority: WARNING
- rule: In exception
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: o
  priority: WARNING
  exceptions:
    - name: payload
      fields: [evt.buffer]
      comps: [contains]
      values: [[x]]
- rule: Via macro
  condition: and proc.name = java
  append: true
- rule: Kept
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: o
  priority: WARNING
- sequence: Depends on a skipped rule
  desc: d
  steps:
    - rule: Via macro
    - rule: Kept
  within: 10s
  output: o
  priority: WARNING
- sequence: Inline unknown field
  desc: d
  steps:
    - condition: evt.type = recvfrom and evt.buffer contains x
    - rule: Kept
  within: 10s
  output: o
  priority: WARNING
)";

TEST(Loader, SkipUnknownFieldsLeavesOutWholeRulesAndWhatUsesThem) {
  auto skipped = load_rules({{"u.yaml", kUnknownFieldRules}}, LoadOptions{.skip_unknown_fields = true});
  ASSERT_FALSE(skipped.diagnostics.has_errors()) << diagnostics_text(skipped);
  ASSERT_EQ(skipped.rules.rules.size(), 1u);
  EXPECT_EQ(skipped.rules.rules[0].name, "Kept");
  EXPECT_TRUE(skipped.rules.sequences.empty());
  EXPECT_EQ(skipped.rules.skipped_rules, 3u);
  EXPECT_EQ(skipped.rules.skipped_sequences, 2u);
  EXPECT_EQ(diagnostics_text(skipped),
            "u.yaml:5:14: warning: rule 'Via macro': skipped (--skip-unknown-fields): unknown field 'evt.buffer' "
            "(macro 'reads_class_file' at u.yaml:2:14)\n"
            "u.yaml:11:20: warning: rule 'In output': skipped (--skip-unknown-fields): unknown field 'evt.buffer' in output\n"
            "u.yaml:19:7: warning: rule 'In exception': skipped (--skip-unknown-fields): unknown field 'evt.buffer'\n"
            "u.yaml:34:7: warning: sequence 'Depends on a skipped rule': skipped (--skip-unknown-fields): step rule "
            "'Via macro' was skipped: unknown field 'evt.buffer' (macro 'reads_class_file' at u.yaml:2:14)\n"
            "u.yaml:42:42: warning: sequence 'Inline unknown field': skipped (--skip-unknown-fields): unknown field "
            "'evt.buffer'\n");

  // Without the option: every rule that cannot load names itself and the field.
  auto strict = load_text(kUnknownFieldRules, "u.yaml");
  EXPECT_TRUE(strict.rules.rules.empty());
  auto text = diagnostics_text(strict);
  EXPECT_EQ(text.find("error: macro"), std::string::npos) << "the rules that use the macro report it: " << text;
  EXPECT_NE(text.find("u.yaml:5:14: error: rule 'Via macro': unknown field 'evt.buffer' (macro 'reads_class_file' at "
                      "u.yaml:2:14)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("u.yaml:11:20: error: rule 'In output': unknown field 'evt.buffer' in output\n"), std::string::npos) << text;
  EXPECT_NE(text.find("u.yaml:19:7: error: rule 'In exception': unknown field 'evt.buffer'\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("never fires"), std::string::npos) << text;  // no noise from the placeholder

  // As Falco, which compiles only what rules use: a macro no rule uses may name such a field.
  auto unused = load_text("- macro: unused\n  condition: evt.buffer contains x\n", "m.yaml");
  EXPECT_EQ(diagnostics_text(unused),
            "m.yaml:1:3: warning: macro 'unused': not used by any rule; it could not load: unknown field 'evt.buffer' "
            "(macro 'unused' at m.yaml:2:14)\n");

  // A rule's own skip-if-unknown-filter leaves it out, but a sequence that needs it fails the load.
  auto own = load_text("- rule: A\n  desc: d\n  condition: evt.type = recvfrom and evt.buffer contains x\n  output: o\n"
                       "  priority: INFO\n  skip-if-unknown-filter: true\n"
                       "- sequence: S\n  desc: d\n  steps:\n    - rule: A\n    - condition: evt.type = execve\n"
                       "  within: 5s\n  output: o\n  priority: INFO\n",
                       "own.yaml");
  EXPECT_NE(diagnostics_text(own).find("own.yaml:10:7: error: sequence 'S': step rule 'A' was skipped: unknown field 'evt.buffer'"),
            std::string::npos)
      << diagnostics_text(own);

  // Near miss: an unknown field next to a real error is not skipped; the load fails.
  auto mixed = load_rules({{"m.yaml", "- rule: M\n  desc: d\n  condition: evt.type = execve and evt.buffer contains x and (\n"
                                      "  output: o\n  priority: INFO\n"}},
                          LoadOptions{.skip_unknown_fields = true});
  EXPECT_TRUE(mixed.diagnostics.has_errors()) << diagnostics_text(mixed);
  EXPECT_EQ(mixed.rules.skipped_rules, 0u);
  auto bad_output = load_rules({{"o.yaml", "- rule: O\n  desc: d\n  condition: evt.type = execve and evt.buffer contains x\n"
                                           "  output: \"%proc.aname[x]\"\n  priority: INFO\n"}},
                               LoadOptions{.skip_unknown_fields = true});
  EXPECT_TRUE(bad_output.diagnostics.has_errors()) << diagnostics_text(bad_output);
}

// Golden messages: every problem, with its position, and nothing loaded.
TEST(Loader, GoldenErrors) {
  auto r = load_text(R"(- macro: shell
  condition: proc.name in (sh, bash)

- rule: Typo field
  desc: d
  condition: evt.type = execve and proc.nmae = sh
  output: o
  priority: WARNING

- rule: Unbalanced
  desc: d
  condition: >
    evt.type = execve and
      (proc.name = sh or proc.name = bash
  output: o
  priority: WARNING

- rule: Undefined macro
  desc: d
  condition: evt.type = execve and shell and not undefined_macro_here
  output: o %proc.nope
  priority: SEVERE

- rule: Bad literal
  desc: d
  condition: evt.type = execve and user.uid = root and proc.name regex "("
  output: o
  priority: INFO
  action: explode
)", "bad.yaml");
  EXPECT_TRUE(r.rules.rules.empty());
  EXPECT_EQ(diagnostics_text(r),
            "bad.yaml:6:36: error: rule 'Typo field': unknown field 'proc.nmae'\n"
            "bad.yaml:14:7: error: rule 'Unbalanced': unbalanced parenthesis: '(' is never closed\n"
            "bad.yaml:22:13: error: rule 'Undefined macro': unknown priority 'SEVERE' (emergency..debug)\n"
            "bad.yaml:20:50: error: rule 'Undefined macro': undefined macro 'undefined_macro_here'\n"
            "bad.yaml:21:13: error: rule 'Undefined macro': unknown field 'proc.nope' in output\n"
            "bad.yaml:29:11: error: rule 'Bad literal': unknown action 'explode' (alert|deny|kill|kill_sandbox)\n"
            "bad.yaml:26:36: error: rule 'Bad literal': 'user.uid =': 'root' is not a number\n");
  auto j = r.diagnostics.items().front().to_json();
  EXPECT_EQ(j["line"], 6);
  EXPECT_EQ(j["column"], 36);
  EXPECT_EQ(j["severity"], "error");
}

TEST(Loader, YamlAndStructureErrors) {
  EXPECT_EQ(diagnostics_text(load_text("- rule: [unclosed\n")).substr(0, 16), "test.yaml:2:1: e");
  EXPECT_EQ(diagnostics_text(load_text("rule: x\n")),
            "test.yaml:1:1: error: a rules file is a YAML list of rule, macro and list items\n");
  EXPECT_EQ(diagnostics_text(load_text("- rule: R\n  desc: d\n  output: o\n  priority: info\n")),
            "test.yaml:1:3: error: rule 'R': 'condition' is required and must be a string\n");
  EXPECT_EQ(diagnostics_text(load_text("- macro: m\n  condition: x\n  append: true\n")),
            "test.yaml:1:3: error: macro 'm': append to an undefined macro\n");
}

TEST(Loader, DenyMustBeEnforceableInKernel) {
  auto ok = load_text("- rule: D\n  desc: d\n  condition: evt.type = openat and fd.name startswith /secret and user.uid = 0"
                      " and container.id != host\n  output: o\n  priority: error\n  action: deny\n");
  ASSERT_FALSE(ok.diagnostics.has_errors()) << diagnostics_text(ok);
  ASSERT_EQ(ok.rules.rules[0].enforcement.size(), 1u);
  const auto& spec = ok.rules.rules[0].enforcement[0];
  EXPECT_EQ(spec.event_types, std::vector<EventType>{EventType::openat});
  EXPECT_EQ(spec.path_prefixes, std::vector<std::string>{"/secret"});
  EXPECT_EQ(spec.uid, 0u);
  EXPECT_TRUE(spec.any_container);

  auto bad = load_text("- rule: D\n  desc: d\n  condition: evt.type = execve and proc.pname = nginx\n  output: o\n"
                       "  priority: error\n  action: deny\n");
  EXPECT_EQ(diagnostics_text(bad),
            "test.yaml:3:14: error: rule 'D': action deny: 'proc.pname = nginx' cannot be enforced in-kernel: "
            "in-kernel enforcement matches only evt.type, fd.name (exact or prefix), proc.exepath/proc.name, user.uid, "
            "container.id, proc.cgroup_id, sandbox.id, view, for connections fd.typechar, fd.sip/fd.snet and "
            "fd.sport, and in the guest one evt.arg (= value or contains flag), evt.is_open_write, evt.syscall_nr, "
            "fd.rdev.major/minor, fd.is_char_device/fd.is_block_device, fd.fs_type and proc.is_exe_deleted\n");
  auto hook = load_text("- rule: D\n  desc: d\n  condition: evt.type = setns\n  output: o\n  priority: error\n  action: deny\n");
  EXPECT_NE(diagnostics_text(hook).find("evt.type 'setns' has no in-kernel enforcement hook"), std::string::npos);
  auto all_unshares = load_text("- rule: D\n  desc: d\n  condition: evt.type = unshare\n  output: o\n  priority: error\n  action: deny\n");
  EXPECT_NE(diagnostics_text(all_unshares).find("add evt.arg.flags contains CLONE_NEWUSER"), std::string::npos)
      << diagnostics_text(all_unshares);
}

// Connection destinations compile for the host cgroup programs; sandbox.id exists holds for
// every event an in-kernel program sees.
TEST(Loader, DenyConnectDestination) {
  auto ok = load_text("- rule: D\n  desc: d\n  condition: view = host and sandbox.id exists and evt.type in (connect, sendto)"
                      " and fd.typechar in (4, 6) and fd.sport in (80, 443) and (fd.snet = 10.0.0.0/8 or fd.sip = ::1)\n"
                      "  output: o\n  priority: error\n  action: deny\n");
  ASSERT_FALSE(ok.diagnostics.has_errors()) << diagnostics_text(ok);
  ASSERT_EQ(ok.rules.rules[0].enforcement.size(), 1u);
  const auto& spec = ok.rules.rules[0].enforcement[0];
  EXPECT_EQ(spec.event_types, (std::vector<EventType>{EventType::connect, EventType::sendto}));
  EXPECT_EQ(spec.socket_families, (std::vector<uint16_t>{2, 10}));
  EXPECT_EQ(spec.ports, (std::vector<uint16_t>{80, 443}));
  EXPECT_EQ(spec.ip_nets, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
  EXPECT_EQ(spec.view, View::host);

  auto unix_sock = load_text("- rule: D\n  desc: d\n  condition: evt.type = connect and fd.typechar = u\n  output: o\n"
                             "  priority: error\n  action: deny\n");
  EXPECT_NE(diagnostics_text(unix_sock).find("only INET destinations"), std::string::npos) << diagnostics_text(unix_sock);
  auto either = load_text("- rule: D\n  desc: d\n  condition: evt.type = connect and fd.port = 22\n  output: o\n"
                          "  priority: error\n  action: deny\n");
  EXPECT_NE(diagnostics_text(either).find("'fd.port = 22' cannot be enforced in-kernel"), std::string::npos)
      << diagnostics_text(either);
  auto port = load_text("- rule: D\n  desc: d\n  condition: evt.type = connect and fd.sport = 70000\n  output: o\n"
                        "  priority: error\n  action: deny\n");
  EXPECT_NE(diagnostics_text(port).find("'70000' is not a port"), std::string::npos) << diagnostics_text(port);
}

TEST(Loader, ReadsDirectoriesInOrder) {
  auto s = read_rule_sources({KS_DEFAULT_RULES_DIR});
  ASSERT_TRUE(s);
  ASSERT_FALSE(s->empty());
  EXPECT_TRUE(s->front().name.ends_with(".yaml"));
  EXPECT_FALSE(read_rule_sources({"/nonexistent/rules.yaml"}));
}

}  // namespace
}  // namespace kata_sentry::policy::test
