// kill -9 during a burst of 100 K records, then restart: every record acknowledged before the
// kill is in the log, in order, once; `verify` passes; the log goes on from there; and each sink
// (a JSON-lines file, and syslog over TCP to a real rsyslogd) received every record of the log
// at least once, with no gap: deduplicated by id, exactly the log's records.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporters/pipeline.h"
#include "exporters/log_reader.h"
#include "exporters/verify.h"
#include "tests/exporters/rsyslog_server.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint64_t max_durable(const fs::path& log) {
  std::ifstream in(log);
  uint64_t best = 0;
  for (std::string l; std::getline(in, l);)
    if (l.starts_with("durable ")) best = std::max<uint64_t>(best, std::stoull(l.substr(8)));
  return best;
}

// The seqs of each uuid in JSON lines (the file sink) or RFC 5424 messages (rsyslog's file).
std::map<std::string, uint64_t> ids_in(const std::vector<std::string>& lines, bool syslog) {
  std::map<std::string, uint64_t> ids;
  for (const auto& l : lines) {
    auto at = syslog ? l.find("] {") + 2 : 0;
    auto j = nlohmann::json::parse(l.substr(at), nullptr, false);
    if (j.is_discarded() || !j.contains("uuid")) continue;
    ids[j["uuid"]] = j["seq"];
  }
  return ids;
}

std::vector<std::string> file_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> v;
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(AuditCrash, KillNineMidBurstLosesNothingAcknowledged) {
  test_support::TempDir t("ks-audit-crash-");
  test_support::RsyslogServer rsyslog;
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  fs::path dir = t.path() / "log";
  fs::path config = t.write("export.yaml", "audit:\n  dir: " + dir.string() + "\n  key_file: " + (t.path() / "node.key").string() +
                                               "\n  fsync: interval:2\n  checkpoint_records: 1000\n  segment_bytes: 1048576\n"
                                               "  min_free_bytes: 0\nexporters:\n  - name: file\n    type: file\n    path: " +
                                               (t.path() / "alerts.jsonl").string() +
                                               "\n  - name: siem\n    type: syslog\n    transport: tcp\n    address: 127.0.0.1:" +
                                               std::to_string(rsyslog.tcp_port()) + "\n    confirm_ms: 300\n    backoff_max_ms: 1000\n");
  test_support::Background burst;
  ASSERT_TRUE(burst.start({KS_AUDIT_BURST, config.string(), "100000"}, t.path() / "burst.out"));
  auto end = std::chrono::steady_clock::now() + 60s;
  while (max_durable(burst.log()) < 30000) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "the burst did not reach 30000 acknowledged records";
    ASSERT_TRUE(burst.running()) << "audit_burst ended early";
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(::kill(burst.pid(), SIGKILL), 0);
  burst.stop();
  const uint64_t acked = max_durable(burst.log());  // every line was written before the kill
  ASSERT_GE(acked, 30000u);
  ASSERT_LT(acked, 100000u + 200) << "the burst finished before the kill; nothing was tested";

  // Restart: recovery, the exporters resume from their cursors, and the log goes on.
  auto pc = load_pipeline_config(config.string());
  ASSERT_TRUE(pc) << pc.error().describe();
  std::vector<SinkStats> sinks;
  {
    auto p = Pipeline::start(*pc);
    ASSERT_TRUE(p) << p.error().describe();
    EXPECT_GE((*p)->log().durable_seq(), acked);
    ASSERT_TRUE((*p)->log().append(RecordKind::alert, R"({"rule":"after","priority":"Warning"})"));
    (*p)->log().close();
    ASSERT_TRUE((*p)->wait_exported(120s));
    sinks = (*p)->sink_stats();
    (*p)->stop();
  }
  LogReader r(dir);
  uint64_t expect_seq = 1, expect_n = 0, alerts = 0;
  bool after = false;
  for (;;) {
    auto rec = r.next();
    ASSERT_TRUE(rec) << rec.error().describe();
    if (!*rec) break;
    ASSERT_EQ((*rec)->seq, expect_seq++);
    if ((*rec)->kind != RecordKind::alert) continue;
    auto j = nlohmann::json::parse((*rec)->payload);
    if (j["rule"] == "after") {
      after = true;
      continue;
    }
    ASSERT_FALSE(after) << "a burst record after the restart's record";
    ASSERT_EQ(j["n"].get<uint64_t>(), expect_n++) << "burst records out of order or missing at seq " << (*rec)->seq;
    ++alerts;
  }
  EXPECT_TRUE(after);
  EXPECT_GE(expect_seq - 1, acked) << "acknowledged records are missing";
  const uint64_t in_log = expect_seq - 1;
  auto report = verify_log(dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);

  // Each sink: every record of the log at least once, nothing else.
  std::map<std::string, uint64_t> want;
  {
    LogReader all(dir);
    for (auto rec = all.next(); rec && *rec; rec = all.next()) want[uuid_text((*rec)->id)] = (*rec)->seq;
  }
  auto file = file_lines(t.path() / "alerts.jsonl");
  ASSERT_TRUE(test_support::eventually_lines(rsyslog, want.size(), 30s));
  auto syslog = rsyslog.lines();
  EXPECT_EQ(ids_in(file, false), want) << "the file sink's records, deduplicated by id";
  EXPECT_EQ(ids_in(syslog, true), want) << "rsyslog's records, deduplicated by id";
  for (const auto& s : sinks) EXPECT_EQ(s.lag, 0u) << describe(s);
  std::printf("[crash] burst: 100000 to send, acknowledged up to seq %llu before kill -9 (checkpoints included), %llu burst records in the log after restart "
              "(%llu records in all); file sink %zu lines (%zu duplicates); syslog sink %zu lines (%zu duplicates); torn tail: %s\n",
              static_cast<unsigned long long>(acked), static_cast<unsigned long long>(alerts), static_cast<unsigned long long>(in_log),
              file.size(), file.size() - want.size(), syslog.size(), syslog.size() - want.size(),
              fs::exists(dir / "torn") ? "moved aside" : "none");
}

}  // namespace
}  // namespace kata_sentry::exporters
