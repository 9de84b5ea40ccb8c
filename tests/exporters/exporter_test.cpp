// The exporter machinery with the file sink, no servers: filters, the cursor across restarts
// (nothing sent twice after a clean stop, nothing lost), rotation, an empty log, and the strict
// `exporters:` / `audit:` config.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "exporters/cursor_file.h"
#include "exporters/pipeline.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::TempDir;

PipelineConfig config(const TempDir& t, std::vector<SinkConfig> sinks) {
  PipelineConfig pc;
  pc.audit.dir = (t.path() / "audit").string();
  pc.audit.key_file = (t.path() / "node.key").string();
  pc.audit.fsync_interval_ms = 5;
  pc.audit.checkpoint_records = 1000;
  pc.audit.min_free_bytes = 0;
  pc.sinks = std::move(sinks);
  return pc;
}

SinkConfig file_sink(const std::string& name, const fs::path& path) {
  SinkConfig s;
  s.name = name;
  s.type = "file";
  s.path = path.string();
  return s;
}

std::vector<nlohmann::json> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<nlohmann::json> v;
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

std::string alert(const std::string& priority, const std::string& view, const std::string& tag, int n) {
  return nlohmann::json{{"rule", "r" + std::to_string(n)}, {"priority", priority}, {"view", view}, {"tags", {tag}}, {"output", "x"}, {"n", n}}.dump();
}

TEST(Exporter, EmptyLogStartsAndStops) {
  TempDir t("ks-exporter-");
  auto p = Pipeline::start(config(t, {file_sink("f", t.path() / "a.jsonl")}));
  ASSERT_TRUE(p) << p.error().describe();
  (*p)->stop();
  EXPECT_TRUE(fs::exists(t.path() / "a.jsonl"));
}

TEST(Exporter, FiltersByPriorityViewTagAndKindButAlwaysPassCheckpoints) {
  TempDir t("ks-exporter-");
  SinkConfig all = file_sink("all", t.path() / "all.jsonl");
  SinkConfig picky = file_sink("picky", t.path() / "picky.jsonl");
  picky.filter.min_rank = priority_rank("Error");
  picky.filter.views = {"guest"};
  picky.filter.tags = {"escape"};
  picky.filter.audit = false;
  auto p = Pipeline::start(config(t, {all, picky}));
  ASSERT_TRUE(p) << p.error().describe();
  auto& log = (*p)->log();
  ASSERT_TRUE(log.append(RecordKind::alert, alert("Critical", "guest", "escape", 1)));  // passes
  ASSERT_TRUE(log.append(RecordKind::alert, alert("Warning", "guest", "escape", 2)));   // too mild
  ASSERT_TRUE(log.append(RecordKind::alert, alert("Critical", "host", "escape", 3)));   // other view
  ASSERT_TRUE(log.append(RecordKind::alert, alert("Critical", "guest", "files", 4)));   // other tag
  ASSERT_TRUE(log.append(RecordKind::audit, R"({"audit":true,"view":"guest","ok":false,"detail":"d"})"));  // audit off
  ASSERT_TRUE(log.append(RecordKind::alert, alert("Emergency", "guest", "escape", 6)));  // passes
  log.close();
  ASSERT_TRUE((*p)->wait_exported(10s));
  auto stats = (*p)->sink_stats();
  (*p)->stop();
  auto got = lines(t.path() / "picky.jsonl");
  ASSERT_EQ(got.size(), 3u);  // two alerts and the final checkpoint
  EXPECT_EQ(got[0]["n"], 1);
  EXPECT_EQ(got[1]["n"], 6);
  EXPECT_TRUE(got[2].value("checkpoint", false));
  EXPECT_EQ(lines(t.path() / "all.jsonl").size(), 7u);
  EXPECT_EQ(stats[1].filtered, 4u);
  EXPECT_EQ(stats[1].acked_seq, 7u) << "filtered records count as handled";
  EXPECT_EQ(stats[1].lag, 0u);
}

TEST(Exporter, CursorResumesAfterRestartWithoutResendingOrLosing) {
  TempDir t("ks-exporter-");
  auto pc = config(t, {file_sink("f", t.path() / "a.jsonl")});
  for (int round = 0; round < 3; ++round) {
    auto p = Pipeline::start(pc);
    ASSERT_TRUE(p) << p.error().describe();
    for (int n = 0; n < 100; ++n) ASSERT_TRUE((*p)->log().append(RecordKind::alert, alert("Warning", "guest", "x", round * 100 + n)));
    (*p)->stop();  // closes the log (final checkpoint), drains, persists the cursor
  }
  auto got = lines(t.path() / "a.jsonl");
  ASSERT_EQ(got.size(), 303u) << "300 alerts and three checkpoints, each once";
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["seq"], i + 1);
  auto cursor = read_cursor(t.path() / "audit", "f");
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*cursor, 303u);
}

TEST(Exporter, FileSinkRotatesBySize) {
  TempDir t("ks-exporter-");
  SinkConfig f = file_sink("f", t.path() / "a.jsonl");
  f.max_bytes = 4096;
  f.keep = 2;
  auto p = Pipeline::start(config(t, {f}));
  ASSERT_TRUE(p);
  for (int n = 0; n < 200; ++n) ASSERT_TRUE((*p)->log().append(RecordKind::alert, alert("Warning", "guest", "x", n)));
  (*p)->stop();
  EXPECT_TRUE(fs::exists(t.path() / "a.jsonl.1"));
  EXPECT_TRUE(fs::exists(t.path() / "a.jsonl.2"));
  EXPECT_FALSE(fs::exists(t.path() / "a.jsonl.3"));
  EXPECT_LE(fs::file_size(t.path() / "a.jsonl.1"), 4096u);
  auto last = lines(t.path() / "a.jsonl");
  ASSERT_FALSE(last.empty());
  EXPECT_TRUE(last.back().value("checkpoint", false));
}

TEST(ExporterConfig, UnknownKeysAndKeysOfAnotherTypeNameFileLineColumn) {
  auto read = [](const std::string& text) { return read_sinks_config(YAML::Load(text)["exporters"], "sentryd.yaml"); };
  auto ok = read("exporters:\n  - type: syslog\n    address: 127.0.0.1:514\n    format: cef\n  - type: nats\n    url: nats://x:4222\n");
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->size(), 2u);
  auto bad = read("exporters:\n  - type: nats\n    url: nats://x:4222\n    transport: tcp\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("sentryd.yaml:4:5: unknown key 'transport'"), std::string::npos) << bad.error().message;
  auto dup = read("exporters:\n  - type: file\n    path: /a\n  - type: file\n    path: /b\n");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("two exporters are named 'file'"), std::string::npos) << dup.error().message;
  auto type = read("exporters:\n  - type: smtp\n");
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message.find("sentryd.yaml:2:5"), std::string::npos) << type.error().message;
  auto audit = read_audit_config(YAML::Load("audit:\n  fsync: sometimes\n")["audit"], "sentryd.yaml");
  ASSERT_FALSE(audit);
  EXPECT_NE(audit.error().message.find("always or interval:<ms>"), std::string::npos) << audit.error().message;
  auto good = read_audit_config(YAML::Load("audit:\n  fsync: interval:5\n  disk_full: drop_oldest\n")["audit"], "sentryd.yaml");
  ASSERT_TRUE(good) << good.error().describe();
  EXPECT_EQ(good->fsync_interval_ms, 5u);
  EXPECT_EQ(good->disk_full, DiskFullPolicy::drop_oldest);
}

}  // namespace
}  // namespace kata_sentry::exporters
