// The Kafka exporter against librdkafka's built-in mock cluster (three brokers in this process;
// Debian has no Kafka broker package): every record read back by a consumer on the same
// bootstrap, keyed by its id; produce request errors injected (the idempotent producer retries
// them without duplicates); and all brokers down for 60 s mid-stream, after which everything is
// in the topic, in order, and the lag returns to zero.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporters/log_reader.h"
#include "exporters/pipeline.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

using namespace std::chrono_literals;
using test_support::TempDir;

constexpr int16_t kProduceApiKey = 0;  // Kafka protocol: ProduceRequest

class MockCluster {
 public:
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, 3);
    rd_kafka_mock_topic_create(mc_, "kata-sentry", 1, 3);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  rd_kafka_mock_cluster_t* get() { return mc_; }
  void all_brokers(bool up) {
    for (int32_t id = 1; id <= 3; ++id) up ? rd_kafka_mock_broker_set_up(mc_, id) : rd_kafka_mock_broker_set_down(mc_, id);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

struct Consumed {
  std::string key;
  nlohmann::json doc;
};

// Everything in partition 0 of the topic, from the beginning: at least `want` messages, then
// until the partition stays quiet for 2 s (duplicates would come after), or 120 s.
std::vector<Consumed> consume(const std::string& bootstraps, size_t want) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "ks-test", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "kata-sentry", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<Consumed> out;
  auto end = std::chrono::steady_clock::now() + 120s;
  auto last = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < end && (out.size() < want || std::chrono::steady_clock::now() - last < 2s)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 200);
    if (!m) continue;
    last = std::chrono::steady_clock::now();
    if (!m->err)
      out.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                     nlohmann::json::parse(std::string(static_cast<const char*>(m->payload), m->len), nullptr, false)});
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return out;
}

struct Harness {
  TempDir dir{"ks-export-"};
  std::unique_ptr<Pipeline> pipeline;
  void start(const std::string& brokers) {
    PipelineConfig pc;
    pc.audit.dir = (dir.path() / "audit").string();
    pc.audit.key_file = (dir.path() / "node.key").string();
    pc.audit.fsync_interval_ms = 5;
    pc.audit.checkpoint_records = 100;
    pc.audit.min_free_bytes = 0;
    SinkConfig s;
    s.name = "kafka";
    s.type = "kafka";
    s.brokers = brokers;
    s.topic = "kata-sentry";
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

TEST(KafkaSink, EveryRecordReadBackKeyedByItsIdThroughInjectedProduceErrors) {
  MockCluster cluster;
  // Transient produce errors: the idempotent producer retries them itself.
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApiKey, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR__TRANSPORT);
  Harness h;
  h.start(cluster.bootstraps());
  for (uint64_t n = 0; n < 300; ++n) ASSERT_TRUE(h.pipeline->log().append(RecordKind::alert, alert(n)));
  h.pipeline->log().close();
  ASSERT_TRUE(h.pipeline->wait_exported(60s)) << describe(h.pipeline->sink_stats()[0]);
  auto want = h.log_ids();
  auto got = consume(cluster.bootstraps(), want.size());
  ASSERT_EQ(got.size(), want.size());
  uint64_t prev = 0;
  for (const auto& m : got) {
    ASSERT_TRUE(want.count(m.key)) << m.key;
    EXPECT_EQ(m.doc["uuid"], m.key);
    EXPECT_GT(m.doc["seq"].get<uint64_t>(), prev) << "out of order";
    prev = m.doc["seq"];
  }
}

TEST(KafkaSink, AllBrokersDownSixtySecondsMidStreamLosesNothing) {
  MockCluster cluster;
  Harness h;
  h.start(cluster.bootstraps());
  std::atomic<bool> streaming{true};
  std::atomic<uint64_t> sent{0};
  // The mock cluster keeps only the last 5 MiB of a partition (librdkafka's rdkafka_mock.c prunes
  // the oldest message sets beyond that), so the stream stops at kMaxStream records (about
  // 2.5 MiB with duplicates to spare): a longer one would lose its head to the mock's retention,
  // not to the exporter. At one record per 2 ms the cap is reached well after the brokers go down.
  constexpr uint64_t kMaxStream = 12000;
  std::thread producer([&] {
    while (streaming && sent < kMaxStream) {
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
  cluster.all_brokers(false);
  std::this_thread::sleep_for(60s);
  auto during = h.pipeline->sink_stats()[0];
  EXPECT_GT(during.failures, 0u);
  EXPECT_GT(during.lag, 1000u);
  cluster.all_brokers(true);
  end = std::chrono::steady_clock::now() + 90s;
  while (delivered() < during.delivered + 500) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << describe(h.pipeline->sink_stats()[0]);
    std::this_thread::sleep_for(20ms);
  }
  streaming = false;
  producer.join();
  h.pipeline->log().close();
  ASSERT_TRUE(h.pipeline->wait_exported(90s)) << describe(h.pipeline->sink_stats()[0]);
  auto final_stats = h.pipeline->sink_stats()[0];
  EXPECT_EQ(final_stats.lag, 0u);
  auto want = h.log_ids();
  auto got = consume(cluster.bootstraps(), want.size());
  std::set<std::string> seen;
  std::vector<uint64_t> first_seen;
  for (const auto& m : got) {
    ASSERT_TRUE(want.count(m.key));
    if (seen.insert(m.key).second) first_seen.push_back(want[m.key]);
  }
  std::string missing;
  for (const auto& [id, seq] : want)
    if (!seen.count(id) && missing.size() < 400) missing += std::to_string(seq) + " ";
  EXPECT_EQ(seen.size(), want.size()) << "records missing from the topic after the outage: " << missing << "; during the outage: "
                                      << describe(during);
  EXPECT_TRUE(std::is_sorted(first_seen.begin(), first_seen.end()));
  std::printf("[kafka outage] records sent %llu, in the log %zu, in the topic %zu (distinct %zu, duplicates %zu), failed attempts %llu\n",
              static_cast<unsigned long long>(sent.load()), want.size(), got.size(), seen.size(), got.size() - seen.size(),
              static_cast<unsigned long long>(final_stats.failures));
}

}  // namespace
}  // namespace kata_sentry::exporters
