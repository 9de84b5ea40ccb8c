// The syslog exporter against a real rsyslogd started here: RFC 5424 over UDP, TCP (octet
// counting) and TLS, with CEF or Falco JSON inside, each message parsed back by an independent
// parser (syslog_parse.h), hostile guest strings included; and an outage of 60 s in the middle
// of a stream, after which everything arrives in order and the lag returns to zero.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporters/cef.h"
#include "exporters/log_reader.h"
#include "exporters/pipeline.h"
#include "exporters/verify.h"
#include "tests/exporters/rsyslog_server.h"
#include "tests/exporters/syslog_parse.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::RsyslogServer;
using test_support::TempDir;

// Strings a hostile guest controls (file names, process names, command lines), and a rule name
// with the header's specials.
const std::string kEvilProc = "sh|x=y\\z\nact=allow";
const std::string kEvilFile = "/tmp/a=b|c\\d\r\nCEF:0|fake|fake|1|x|y|10|rt=0";
const std::string kEvilRule = "Write | below = tmp \\ now\nnew line";

nlohmann::ordered_json hostile_alert(int n) {
  nlohmann::ordered_json j;
  j["hostname"] = "node-1";
  j["output"] = "07:35:54.123456789: Warning File written (file=" + kEvilFile + " proc=" + kEvilProc + ")";
  j["output_fields"] = {{"proc.name", kEvilProc}, {"proc.pid", 4242}, {"fd.name", kEvilFile}, {"user.name", "root"},
                        {"container.id", "c1"},   {"proc.cmdline", "sh -c \"echo ]\\\" > x\""}};
  j["priority"] = "Warning";
  j["rule"] = kEvilRule;
  j["source"] = "syscall";
  j["tags"] = {"filesystem", "guest"};
  j["time"] = "2026-11-23T07:35:54.123456789Z";
  j["sandbox"] = "sb-" + std::to_string(n);
  j["view"] = "guest";
  j["action"] = "deny";
  j["enforced"] = true;
  j["n"] = n;
  return j;
}

struct Harness {
  TempDir dir{"ks-export-"};
  std::unique_ptr<Pipeline> pipeline;

  void start(const SinkConfig& sink) {
    PipelineConfig pc;
    pc.audit.dir = (dir.path() / "audit").string();
    pc.audit.key_file = (dir.path() / "node.key").string();
    pc.audit.fsync_interval_ms = 5;
    pc.audit.checkpoint_records = 50;
    pc.audit.min_free_bytes = 0;
    pc.sinks = {sink};
    auto p = Pipeline::start(pc);
    ASSERT_TRUE(p) << p.error().describe();
    pipeline = std::move(*p);
  }
};

SinkConfig syslog_sink(const std::string& transport, int port, const std::string& format) {
  SinkConfig c;
  c.name = "siem";
  c.type = "syslog";
  c.transport = transport;
  c.address = "127.0.0.1:" + std::to_string(port);
  c.format = format;
  c.confirm_ms = 300;
  c.backoff_max_ms = 1000;
  return c;
}

// Every record of the log, by sequence: what each sink must hold.
std::map<uint64_t, Record> log_records(const fs::path& dir) {
  std::map<uint64_t, Record> out;
  LogReader r(dir);
  for (;;) {
    auto rec = r.next();
    if (!rec || !*rec) return out;
    out[(*rec)->seq] = std::move(**rec);
  }
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

void check_cef_alert(const test_support::Cef& cef, int n) {
  ASSERT_EQ(cef.header.size(), 7u);
  EXPECT_EQ(cef.header[0], "CEF:0");
  EXPECT_EQ(cef.header[1], "kata-sentry");
  EXPECT_EQ(cef.header[2], "kata-sentry");
  EXPECT_EQ(cef.header[5], "Write | below = tmp \\ now new line");  // the header cannot hold a line break
  EXPECT_EQ(cef.header[6], "6");                                    // Warning
  EXPECT_EQ(cef.ext.at("sproc"), kEvilProc);
  EXPECT_EQ(cef.ext.at("filePath"), kEvilFile);
  EXPECT_EQ(cef.ext.at("spid"), "4242");
  EXPECT_EQ(cef.ext.at("suser"), "root");
  EXPECT_EQ(cef.ext.at("act"), "deny");
  EXPECT_EQ(cef.ext.at("cs1Label"), "sandbox");
  EXPECT_EQ(cef.ext.at("cs1"), "sb-" + std::to_string(n));
  EXPECT_EQ(cef.ext.at("cs4"), "sh -c \"echo ]\\\" > x\"");
  EXPECT_EQ(cef.ext.count("rt"), 1u);
  EXPECT_EQ(cef.ext.count("dvchost"), 1u);
}

TEST(SyslogSink, CefOverTcpOctetCountedIsParsedBackExactly) {
  RsyslogServer rsyslog;
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  h.start(syslog_sink("tcp", rsyslog.tcp_port(), "cef"));
  for (int n = 0; n < 20; ++n) ASSERT_TRUE(h.pipeline->log().append(RecordKind::alert, hostile_alert(n).dump()));
  ASSERT_TRUE(h.pipeline->log().append(RecordKind::audit, R"J({"audit":true,"time":"2026-11-23T07:35:54Z","hostname":"node-1","rule":"x","sandbox":"sb-1","view":"guest","action":"kill","ok":false,"detail":"failed to kill guest pid 7 (a=b|c\\d\n)"})J"));
  h.pipeline->log().close();  // + the final signed checkpoint
  ASSERT_TRUE(h.pipeline->wait_exported(20s)) << describe(h.pipeline->sink_stats()[0]);
  auto expect = log_records(h.dir.path() / "audit");
  ASSERT_TRUE(eventually([&] { return rsyslog.lines().size() >= expect.size(); }, 10s)) << rsyslog.lines().size();

  int alerts = 0, audits = 0, checkpoints = 0;
  std::set<uint64_t> seqs;
  for (const auto& line : rsyslog.lines()) {
    auto s = test_support::parse_5424(line);
    ASSERT_TRUE(s) << "not RFC 5424: " << line;
    EXPECT_EQ(s->app_name, "kata-sentry");
    ASSERT_TRUE(s->sd.count("ks@32473")) << line;
    uint64_t seq = std::stoull(s->sd["ks@32473"]["seq"]);
    ASSERT_TRUE(expect.count(seq)) << line;
    EXPECT_EQ(s->sd["ks@32473"]["id"], uuid_text(expect[seq].id));
    EXPECT_EQ(s->msgid, std::string(kind_name(expect[seq].kind)));
    seqs.insert(seq);
    auto cef = test_support::parse_cef(s->msg);
    ASSERT_TRUE(cef) << "not CEF: " << s->msg;
    EXPECT_EQ(cef->ext.at("externalId"), uuid_text(expect[seq].id));
    if (expect[seq].kind == RecordKind::alert) {
      EXPECT_EQ(s->pri, 16 * 8 + 4);  // local0.warning
      check_cef_alert(*cef, alerts++);
    } else if (expect[seq].kind == RecordKind::audit) {
      ++audits;
      EXPECT_EQ(s->pri, 16 * 8 + 3);  // a failed action: error
      EXPECT_EQ(cef->ext.at("msg"), "failed to kill guest pid 7 (a=b|c\\d\n)");
      EXPECT_EQ(cef->ext.at("outcome"), "failure");
    } else {
      ++checkpoints;
      EXPECT_EQ(cef->header[4], "ks-checkpoint");
      auto cp = checkpoint_from_json(expect[seq].payload);
      ASSERT_TRUE(cp);
      EXPECT_EQ(cef->ext.at("cs2"), hex(cp->signature));  // the SIEM holds the signed head
    }
  }
  EXPECT_EQ(alerts, 20);
  EXPECT_EQ(audits, 1);
  EXPECT_EQ(checkpoints, 1);
  EXPECT_EQ(seqs.size(), expect.size());
}

TEST(SyslogSink, JsonOverUdpIsParsedBack) {
  RsyslogServer rsyslog;
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  h.start(syslog_sink("udp", rsyslog.udp_port(), "json"));
  for (int n = 0; n < 10; ++n) ASSERT_TRUE(h.pipeline->log().append(RecordKind::alert, hostile_alert(n).dump()));
  ASSERT_TRUE(h.pipeline->wait_exported(20s));
  ASSERT_TRUE(eventually([&] { return rsyslog.lines().size() >= 10; }, 10s)) << rsyslog.lines().size();
  int n = 0;
  for (const auto& line : rsyslog.lines()) {
    auto s = test_support::parse_5424(line);
    ASSERT_TRUE(s) << line;
    auto j = nlohmann::json::parse(s->msg, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << s->msg;
    if (!j.contains("rule")) continue;
    EXPECT_EQ(j["rule"], kEvilRule);
    EXPECT_EQ(j["output_fields"]["fd.name"], kEvilFile);
    EXPECT_EQ(j["uuid"], s->sd["ks@32473"]["id"]);
    EXPECT_EQ(j["n"], n++);
  }
  EXPECT_EQ(n, 10);
}

TEST(SyslogSink, CefOverTlsVerifiesTheServer) {
  RsyslogServer rsyslog(/*tls=*/true);
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  auto sink = syslog_sink("tls", rsyslog.tls_port(), "cef");
  sink.ca_file = rsyslog.ca().string();
  h.start(sink);
  for (int n = 0; n < 10; ++n) ASSERT_TRUE(h.pipeline->log().append(RecordKind::alert, hostile_alert(n).dump()));
  ASSERT_TRUE(h.pipeline->wait_exported(30s)) << describe(h.pipeline->sink_stats()[0]);
  ASSERT_TRUE(eventually([&] { return rsyslog.lines().size() >= 10; }, 10s)) << rsyslog.log_text();
  int alerts = 0;
  for (const auto& line : rsyslog.lines()) {
    auto s = test_support::parse_5424(line);
    ASSERT_TRUE(s) << line;
    auto cef = test_support::parse_cef(s->msg);
    ASSERT_TRUE(cef) << s->msg;
    if (cef->header[4] != "ks-checkpoint") check_cef_alert(*cef, alerts++);
  }
  EXPECT_EQ(alerts, 10);

  // A server the CA did not sign is refused: nothing is sent to it.
  Harness other;
  auto wrong = sink;
  wrong.ca_file = (h.dir.path() / "node.key").string();  // not a CA
  other.start(wrong);
  ASSERT_TRUE(other.pipeline->log().append(RecordKind::alert, hostile_alert(0).dump()));
  ASSERT_TRUE(eventually([&] { return other.pipeline->sink_stats()[0].failures > 0; }, 20s));
  EXPECT_EQ(other.pipeline->sink_stats()[0].delivered, 0u);
  EXPECT_NE(other.pipeline->sink_stats()[0].last_error.find("TLS"), std::string::npos) << "last error: " << other.pipeline->sink_stats()[0].last_error << "\nrsyslogd: " << rsyslog.log_text();
}

// rsyslogd is stopped for 60 s in the middle of a stream and started again: every record
// arrives (at least once), the first arrivals are in sequence order, and the lag returns to 0.
TEST(SyslogSink, SixtySecondOutageMidStreamLosesNothing) {
  RsyslogServer rsyslog;
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  h.start(syslog_sink("tcp", rsyslog.tcp_port(), "json"));
  std::atomic<bool> streaming{true};
  std::atomic<uint64_t> sent{0};
  std::thread producer([&] {
    while (streaming) {
      if (h.pipeline->log().append(RecordKind::alert, hostile_alert(static_cast<int>(sent.load())).dump())) ++sent;
      std::this_thread::sleep_for(2ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return h.pipeline->sink_stats()[0].delivered >= 500; }, 30s));
  rsyslog.stop();
  const uint64_t at_stop = h.pipeline->sink_stats()[0].acked_seq;
  std::this_thread::sleep_for(60s);
  auto during = h.pipeline->sink_stats()[0];
  EXPECT_GT(during.failures, 0u);
  EXPECT_GT(during.lag, 1000u) << "the stream went on while the collector was down";
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  ASSERT_TRUE(eventually([&] { return h.pipeline->sink_stats()[0].delivered > during.delivered + 500; }, 60s));
  streaming = false;
  producer.join();
  h.pipeline->log().close();
  ASSERT_TRUE(h.pipeline->wait_exported(60s)) << describe(h.pipeline->sink_stats()[0]);
  auto final_stats = h.pipeline->sink_stats()[0];
  EXPECT_EQ(final_stats.lag, 0u);

  auto expect = log_records(h.dir.path() / "audit");
  ASSERT_TRUE(eventually([&] { return rsyslog.lines().size() >= expect.size(); }, 20s));
  std::vector<uint64_t> first_seen;
  std::set<uint64_t> seen;
  uint64_t lines = 0;
  for (const auto& line : rsyslog.lines()) {
    auto s = test_support::parse_5424(line);
    ASSERT_TRUE(s) << line;
    uint64_t seq = std::stoull(s->sd["ks@32473"]["seq"]);
    ASSERT_TRUE(expect.count(seq));
    EXPECT_EQ(s->sd["ks@32473"]["id"], uuid_text(expect[seq].id));
    ++lines;
    if (seen.insert(seq).second) first_seen.push_back(seq);
  }
  EXPECT_EQ(seen.size(), expect.size()) << "records missing after the outage";
  EXPECT_TRUE(std::is_sorted(first_seen.begin(), first_seen.end())) << "first arrivals out of order";
  std::printf("[outage] records sent %llu (+%zu checkpoints), acknowledged by the log %zu, cursor at stop %llu, "
              "delivered lines %llu, distinct %zu, duplicates %llu, failed attempts %llu\n",
              static_cast<unsigned long long>(sent.load()), expect.size() - sent.load(), expect.size(),
              static_cast<unsigned long long>(at_stop), static_cast<unsigned long long>(lines), seen.size(),
              static_cast<unsigned long long>(lines - seen.size()), static_cast<unsigned long long>(final_stats.failures));
}

}  // namespace
}  // namespace kata_sentry::exporters
