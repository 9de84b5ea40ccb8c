// The NATS JetStream exporter against a real `nats-server -js` started here: every record is
// stored once (the record id is the message id), read back with the NATS client; and a 60 s
// outage of the server mid-stream, after which everything is in the stream, in order, and the lag
// returns to zero.
#include <gtest/gtest.h>

#include <nats/nats.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporters/log_reader.h"
#include "exporters/pipeline.h"
#include "tests/exporters/nats_server.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::NatsServer;
using test_support::TempDir;

struct StreamMessage {
  std::string msg_id;
  nlohmann::json doc;
};

// Every message of `stream`, in stream order, through the NATS client.
std::vector<StreamMessage> read_stream(const std::string& url, const std::string& stream) {
  std::vector<StreamMessage> out;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  EXPECT_EQ(natsConnection_ConnectTo(&nc, url.c_str()), NATS_OK);
  EXPECT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr{};
  EXPECT_EQ(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr), NATS_OK);
  uint64_t first = si ? si->State.FirstSeq : 1, last = si ? si->State.LastSeq : 0;
  if (si) jsStreamInfo_Destroy(si);
  for (uint64_t seq = first; seq <= last; ++seq) {
    natsMsg* m = nullptr;
    if (js_GetMsg(&m, js, stream.c_str(), seq, nullptr, &jerr) != NATS_OK) continue;
    const char* id = nullptr;
    natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
    out.push_back({id ? id : "", nlohmann::json::parse(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)), nullptr, false)});
    natsMsg_Destroy(m);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return out;
}

struct Harness {
  TempDir dir{"ks-export-"};
  std::unique_ptr<Pipeline> pipeline;
  void start(const std::string& url) {
    PipelineConfig pc;
    pc.audit.dir = (dir.path() / "audit").string();
    pc.audit.key_file = (dir.path() / "node.key").string();
    pc.audit.fsync_interval_ms = 5;
    pc.audit.checkpoint_records = 100;
    pc.audit.min_free_bytes = 0;
    SinkConfig s;
    s.name = "bus";
    s.type = "nats";
    s.url = url;
    s.subject = "kata-sentry.records";
    s.stream = "KATA_SENTRY";
    s.backoff_max_ms = 1000;
    pc.sinks = {s};
    auto p = Pipeline::start(pc);
    ASSERT_TRUE(p) << p.error().describe();
    pipeline = std::move(*p);
  }
  std::map<std::string, uint64_t> log_ids() const {
    std::map<std::string, uint64_t> ids;
    LogReader r(dir.path() / "audit");
    for (auto rec = r.next(); rec && *rec; rec = r.next()) ids[uuid_text((*rec)->id)] = (*rec)->seq;
    return ids;
  }
};

std::string alert(uint64_t n) {
  return R"({"hostname":"node-1","output":"x","priority":"Warning","rule":"r","tags":[],"view":"guest","n":)" + std::to_string(n) + "}";
}

TEST(NatsSink, EveryRecordStoredOnceWithItsIdAsMessageId) {
  NatsServer nats;
  {
    auto started = nats.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  h.start(nats.url());
  for (uint64_t n = 0; n < 300; ++n) ASSERT_TRUE(h.pipeline->log().append(RecordKind::alert, alert(n)));
  h.pipeline->log().close();
  ASSERT_TRUE(h.pipeline->wait_exported(30s)) << describe(h.pipeline->sink_stats()[0]);
  auto msgs = read_stream(nats.url(), "KATA_SENTRY");
  auto want = h.log_ids();
  ASSERT_EQ(msgs.size(), want.size());
  uint64_t prev = 0;
  for (const auto& m : msgs) {
    ASSERT_FALSE(m.doc.is_discarded());
    EXPECT_EQ(m.msg_id, m.doc["uuid"]);
    ASSERT_TRUE(want.count(m.msg_id));
    EXPECT_EQ(m.doc["seq"], want[m.msg_id]);
    EXPECT_GT(m.doc["seq"].get<uint64_t>(), prev);
    prev = m.doc["seq"];
  }
}

TEST(NatsSink, SixtySecondOutageMidStreamLosesNothing) {
  NatsServer nats;
  {
    auto started = nats.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  Harness h;
  h.start(nats.url());
  std::atomic<bool> streaming{true};
  std::atomic<uint64_t> sent{0};
  std::thread producer([&] {
    while (streaming) {
      if (h.pipeline->log().append(RecordKind::alert, alert(sent.load()))) ++sent;
      std::this_thread::sleep_for(2ms);
    }
  });
  auto delivered = [&] { return h.pipeline->sink_stats()[0].delivered; };
  auto end = std::chrono::steady_clock::now() + 30s;
  while (delivered() < 500) {
    ASSERT_LT(std::chrono::steady_clock::now(), end);
    std::this_thread::sleep_for(20ms);
  }
  nats.stop();
  std::this_thread::sleep_for(60s);
  auto during = h.pipeline->sink_stats()[0];
  EXPECT_GT(during.failures, 0u);
  EXPECT_GT(during.lag, 1000u);
  {
    auto started = nats.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  end = std::chrono::steady_clock::now() + 60s;
  while (delivered() < during.delivered + 500) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << describe(h.pipeline->sink_stats()[0]);
    std::this_thread::sleep_for(20ms);
  }
  streaming = false;
  producer.join();
  h.pipeline->log().close();
  ASSERT_TRUE(h.pipeline->wait_exported(60s)) << describe(h.pipeline->sink_stats()[0]);
  auto final_stats = h.pipeline->sink_stats()[0];
  EXPECT_EQ(final_stats.lag, 0u);
  auto msgs = read_stream(nats.url(), "KATA_SENTRY");
  auto want = h.log_ids();
  std::set<std::string> seen;
  std::vector<uint64_t> first_seen;
  for (const auto& m : msgs) {
    ASSERT_TRUE(want.count(m.msg_id)) << m.msg_id;
    if (seen.insert(m.msg_id).second) first_seen.push_back(want[m.msg_id]);
  }
  EXPECT_EQ(seen.size(), want.size()) << "records missing from the stream after the outage";
  EXPECT_TRUE(std::is_sorted(first_seen.begin(), first_seen.end())) << "stream order differs from the log's";
  std::printf("[nats outage] records sent %llu, in the log %zu, stored in the stream %zu (distinct %zu, duplicates %zu), "
              "sink deliveries %llu, failed attempts %llu\n",
              static_cast<unsigned long long>(sent.load()), want.size(), msgs.size(), seen.size(), msgs.size() - seen.size(),
              static_cast<unsigned long long>(final_stats.delivered), static_cast<unsigned long long>(final_stats.failures));
}

}  // namespace
}  // namespace kata_sentry::exporters
