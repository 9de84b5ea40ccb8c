// The engine: modes and actions, sequence state bounds, alert JSON, replaying recorded events.
#include <fstream>

#include "core/event_json.h"
#include "policy-engine/catalogue.h"
#include "tests/unit/policy/helpers.h"

namespace kata_sentry::policy::test {
namespace {

constexpr const char* kKill = R"(
- rule: Kill shell
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: shell %proc.name by %proc.pname (tty=%proc.tty uid=%user.uid)
  priority: error
  action: kill
  tags: [t1]
)";

TEST(Engine, MonitorReportsActionButDoesNotEnforce) {
  EngineConfig cfg;
  cfg.hostname = "node-1";
  auto e = engine_for(kKill, cfg);
  std::vector<Alert> alerts;
  e.process(EventBuilder().exec("/bin/sh").parent("bash").guest().sandbox("sb1").build(), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].action, Action::kill);
  EXPECT_FALSE(alerts[0].enforced);
  EXPECT_EQ(alerts[0].hostname, "node-1");
}

TEST(Engine, EnforceModeMarksEnforced) {
  EngineConfig cfg;
  cfg.mode = Mode::enforce;
  auto e = engine_for(kKill, cfg);
  std::vector<Alert> alerts;
  e.process(EventBuilder().exec("/bin/sh").build(), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].enforced);
}

TEST(Engine, MinPriorityFilters) {
  EngineConfig cfg;
  cfg.min_priority = Priority::critical;
  auto e = engine_for(kKill, cfg);
  EXPECT_TRUE(fired(e, EventBuilder().exec("/bin/sh")).empty());
}

// output_fields: each field once, in the order the output first names it, typed (number,
// bool, string), null when absent; proc.aname without [N] shows the parent, as in the text.
TEST(Engine, OutputFieldsOncePerFieldTypedAndInOrder) {
  auto e = engine_for(
      "- rule: R\n  desc: d\n  condition: evt.type = execve\n"
      "  output: '%proc.name %user.uid %proc.name %evt.failed %proc.tty %proc.aname %user.uid'\n  priority: INFO\n");
  std::vector<Alert> alerts;
  e.process(EventBuilder().exec("/bin/sh").parent("bash").uid(7).build(), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].output, "sh 7 sh false <NA> bash 7");
  const auto& f = alerts[0].output_fields;
  ASSERT_EQ(f.size(), 5u);
  std::vector<std::string> keys;
  for (const auto& [k, v] : f.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"proc.name", "user.uid", "evt.failed", "proc.tty", "proc.aname"}));
  EXPECT_EQ(f["proc.name"], "sh");
  EXPECT_EQ(f["user.uid"], 7);
  EXPECT_EQ(f["evt.failed"], false);
  EXPECT_TRUE(f["proc.tty"].is_null());
  EXPECT_EQ(f["proc.aname"], "bash");
}

TEST(Engine, AlertJsonHasFalcoAndKataSentryKeys) {
  EngineConfig cfg;
  cfg.hostname = "node-1";
  auto e = engine_for(kKill, cfg);
  std::vector<Alert> alerts;
  e.process(EventBuilder().exec("/bin/sh").parent("bash").uid(7).guest().sandbox("sb1").time_ns(1'000'000'000'123ull).build(),
            alerts);
  ASSERT_EQ(alerts.size(), 1u);
  auto j = nlohmann::json::parse(alert_to_json_line(alerts[0]));
  for (const char* k : {"time", "rule", "priority", "source", "output", "output_fields", "tags", "hostname", "sandbox",
                        "view", "action", "enforced"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["time"], "1970-01-01T00:16:40.000000123Z");
  EXPECT_EQ(j["rule"], "Kill shell");
  EXPECT_EQ(j["priority"], "Error");
  EXPECT_EQ(j["source"], "syscall");
  EXPECT_EQ(j["output"], "00:16:40.000000123: Error shell sh by bash (tty=<NA> uid=7)");
  EXPECT_EQ(j["output_fields"]["proc.name"], "sh");
  EXPECT_EQ(j["output_fields"]["user.uid"], 7);
  EXPECT_TRUE(j["output_fields"]["proc.tty"].is_null());
  EXPECT_EQ(j["tags"], nlohmann::json::array({"t1"}));
  EXPECT_EQ(j["sandbox"], "sb1");
  EXPECT_EQ(j["view"], "guest");
  EXPECT_EQ(j["action"], "kill");
  EXPECT_EQ(j["enforced"], false);
}

constexpr const char* kSequence = R"(
- rule: Step one
  desc: d
  condition: evt.type = init_module and view = guest
  output: one
  priority: notice
  enabled: false
- sequence: One then two
  by: [sandbox.id]
  within: 10s
  steps:
    - rule: Step one
    - condition: view = host and evt.type = execve
  priority: CRITICAL
  action: kill_sandbox
)";

TEST(Engine, SequenceCarriesEveryStepEventAndUsesDisabledRules) {
  auto e = engine_for(kSequence);
  std::vector<Alert> alerts;
  e.process(EventBuilder().type(EventType::init_module).args({10}).guest().sandbox("a").build(), alerts);
  EXPECT_TRUE(alerts.empty()) << "disabled rules do not alert, but still feed sequences";
  e.process(EventBuilder().exec("/bin/sh").host().sandbox("a").after_ms(100).build(), alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "One then two");
  EXPECT_EQ(alerts[0].action, Action::kill_sandbox);
  ASSERT_EQ(alerts[0].events.size(), 2u);
  EXPECT_EQ(alerts[0].events[0].type, EventType::init_module);
  EXPECT_EQ(alerts[0].events[1].type, EventType::execve);
  auto j = alert_to_json(alerts[0]);
  EXPECT_EQ(j["events"].size(), 2u);
}

TEST(Engine, SequenceWindowExpires) {
  auto e = engine_for(kSequence);
  EXPECT_TRUE(fired(e, EventBuilder().type(EventType::init_module).args({10}).guest().sandbox("a")).empty());
  EXPECT_TRUE(fired(e, EventBuilder().exec("/bin/sh").host().sandbox("a").after_ms(10'001)).empty());
}

TEST(Engine, SequenceStateIsBoundedWithEvictionCounter) {
  EngineConfig cfg;
  cfg.sequence_key_cap = 3;
  auto e = engine_for(kSequence, cfg);
  for (int i = 0; i < 10; ++i)
    fired(e, EventBuilder().type(EventType::init_module).args({10}).guest().sandbox("sb" + std::to_string(i)));
  auto st = e.stats();
  EXPECT_EQ(st.sequence_keys, 3u);
  EXPECT_EQ(st.sequence_evictions, 7u);
  // The newest keys survive; the oldest were evicted.
  EXPECT_TRUE(has(fired(e, EventBuilder().exec("/bin/sh").host().sandbox("sb9")), "One then two"));
  EXPECT_FALSE(has(fired(e, EventBuilder().exec("/bin/sh").host().sandbox("sb0")), "One then two"));
}

TEST(Engine, EventsWithoutTheKeyDoNotJoinSequences) {
  auto e = engine_for(kSequence);
  fired(e, EventBuilder().type(EventType::init_module).args({10}).guest());  // no sandbox.id
  EXPECT_EQ(e.stats().sequence_keys, 0u);
}

TEST(Replay, RecordedShellUnderNginxFiresRunShellUntrusted) {
  std::ifstream in(std::string(KS_DEFAULT_RULES_DIR) + "/../tests/unit/policy/fixtures/shell_in_nginx.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto ev = event_from_json_line(line);
  ASSERT_TRUE(ev) << ev.error().describe();
  auto r = load_rules(sources_or_die({KS_FALCO_RULES}));
  Engine engine(std::move(r.rules), {});
  std::vector<Alert> alerts;
  engine.process(*ev, alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "Run shell untrusted");
  EXPECT_EQ(alerts[0].sandbox, "sb-1");
  EXPECT_EQ(alerts[0].view, View::guest);
}

TEST(Catalogue, ListsEveryFieldWithTypeAndAbsentSemantics) {
  auto j = field_catalogue_json();
  bool saw_repo = false;
  for (const auto& f : j) {
    EXPECT_FALSE(f["desc"].get<std::string>().empty()) << f["name"];
    if (f["name"] == "container.image.repository") {
      saw_repo = true;
      EXPECT_FALSE(f["absent"].is_null());
    }
  }
  EXPECT_TRUE(saw_repo);
  for (const char* ours : {"view", "sandbox.id", "sandbox.name", "vmm.pid", "container.id", "k8s.pod.name", "k8s.ns.name"})
    EXPECT_TRUE(resolve_field(ours).has_value()) << ours;
  EXPECT_NE(field_catalogue_text().find("proc.aname[N]"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry::policy::test
