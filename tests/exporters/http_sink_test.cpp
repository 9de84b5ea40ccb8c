// The HTTP exporters against a local HTTP server started here, which checks each request
// against the documented format (falcosidekick's POST / payload, Splunk HEC, Elasticsearch
// _bulk, Loki push) and answers 503, 429 and a partial _bulk failure before it accepts: every
// record ends up stored once (by its id), and the retries are counted.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "exporters/log_reader.h"
#include "exporters/pipeline.h"
#include "tests/exporters/http_test_server.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::HttpAnswer;
using test_support::HttpRequest;
using test_support::HttpTestServer;
using test_support::TempDir;

// What a destination stored: record id -> how often it was stored; and format violations.
struct Store {
  std::mutex mu;
  std::map<std::string, int> by_id;
  std::vector<std::string> violations;
  int answered_errors = 0;
  void bad(const std::string& what) {
    std::lock_guard lock(mu);
    violations.push_back(what);
  }
};

// falcosidekick's FalcoPayload fields (types.FalcoPayload): what its POST / decodes.
bool falco_payload_ok(const nlohmann::json& j, std::string* why) {
  static const std::regex rfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");
  for (const char* k : {"output", "priority", "rule", "time", "source", "hostname", "uuid"})
    if (!j.contains(k) || !j[k].is_string()) return *why = std::string("missing string '") + k + "'", false;
  if (!j.contains("output_fields") || !j["output_fields"].is_object()) return *why = "missing output_fields object", false;
  if (!j.contains("tags") || !j["tags"].is_array()) return *why = "missing tags array", false;
  if (!std::regex_match(j["time"].get<std::string>(), rfc3339)) return *why = "time is not RFC 3339", false;
  static const std::set<std::string> priorities = {"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"};
  if (!priorities.count(j["priority"].get<std::string>())) return *why = "unknown priority", false;
  return true;
}

std::string header(const HttpRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

std::string alert(uint64_t n) {
  nlohmann::ordered_json j;
  j["hostname"] = "node-1";
  j["output"] = "07:35:54.123456789: Warning File below /etc opened (file=/etc/x\"y n=" + std::to_string(n) + ")";
  j["output_fields"] = {{"fd.name", "/etc/x\"y"}, {"proc.name", "sh"}};
  j["priority"] = "Warning";
  j["rule"] = "Write below etc";
  j["source"] = "syscall";
  j["tags"] = {"filesystem"};
  j["time"] = "2026-11-23T07:35:54.123456789Z";
  j["sandbox"] = "sb1";
  j["view"] = "guest";
  j["n"] = n;
  return j.dump();
}

struct Harness {
  TempDir dir{"ks-export-"};
  std::unique_ptr<Pipeline> pipeline;
  void run(SinkConfig sink, uint64_t records) {
    PipelineConfig pc;
    pc.audit.dir = (dir.path() / "audit").string();
    pc.audit.key_file = (dir.path() / "node.key").string();
    pc.audit.fsync_interval_ms = 5;
    pc.audit.checkpoint_records = 100;
    pc.audit.min_free_bytes = 0;
    sink.name = "http";
    sink.type = "http";
    sink.backoff_max_ms = 400;
    sink.batch = 50;
    pc.sinks = {sink};
    auto p = Pipeline::start(pc);
    ASSERT_TRUE(p) << p.error().describe();
    pipeline = std::move(*p);
    for (uint64_t n = 0; n < records; ++n) ASSERT_TRUE(pipeline->log().append(RecordKind::alert, alert(n)));
    pipeline->log().close();
    ASSERT_TRUE(pipeline->wait_exported(60s)) << describe(pipeline->sink_stats()[0]);
  }
  std::set<std::string> log_ids() const {
    std::set<std::string> ids;
    LogReader r(dir.path() / "audit");
    for (auto rec = r.next(); rec && *rec; rec = r.next()) ids.insert(uuid_text((*rec)->id));
    return ids;
  }
};

void expect_each_once(Store& store, const Harness& h) {
  std::lock_guard lock(store.mu);
  EXPECT_TRUE(store.violations.empty()) << store.violations.front();
  auto want = h.log_ids();
  std::set<std::string> got;
  for (const auto& [id, n] : store.by_id) {
    got.insert(id);
    EXPECT_EQ(n, 1) << id << " stored " << n << " times";
  }
  EXPECT_EQ(got, want);
}

TEST(HttpSink, WebhookSendsFalcosidekicksPayloadAndRetries503And429) {
  Store store;
  HttpTestServer server([&](const HttpRequest& r) -> HttpAnswer {
    std::lock_guard lock(store.mu);
    if (store.answered_errors < 2) return {++store.answered_errors == 1 ? 503 : 429, R"({"error":"busy"})"};
    if (r.method != "POST" || r.path != "/") return {404, ""};
    if (header(r, "content-type") != "application/json") store.violations.push_back("content-type " + header(r, "content-type"));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    std::string why;
    if (j.is_discarded()) {
      store.violations.push_back("not JSON: " + r.body);
    } else if (!falco_payload_ok(j, &why)) {
      store.violations.push_back(why + ": " + r.body);
    } else {
      store.by_id[j["uuid"]]++;
    }
    return {200, ""};
  });
  Harness h;
  SinkConfig s;
  s.kind = "webhook";
  s.url = server.url("/");
  h.run(s, 120);
  expect_each_once(store, h);
  EXPECT_GE(h.pipeline->sink_stats()[0].failures, 2u);
}

TEST(HttpSink, SplunkHecGetsTheTokenAndEventEnvelopes) {
  Store store;
  HttpTestServer server([&](const HttpRequest& r) -> HttpAnswer {
    std::lock_guard lock(store.mu);
    if (r.path != "/services/collector/event") return {404, R"({"text":"Not found","code":404})"};
    if (header(r, "authorization") != "Splunk tok-123") return {401, R"({"text":"Invalid token","code":4})"};
    if (store.answered_errors < 1) {
      ++store.answered_errors;
      return {503, R"({"text":"Server is busy","code":9})"};
    }
    // HEC takes concatenated event objects.
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      auto e = nlohmann::json::parse(line, nullptr, false);
      if (e.is_discarded() || !e.contains("event") || !e["event"].is_object() || !e.contains("time") || !e["time"].is_number()) {
        store.violations.push_back("not a HEC event: " + line);
        continue;
      }
      if (e.value("sourcetype", "") != "_json" || e.value("index", "") != "security") store.violations.push_back("sourcetype/index: " + line);
      store.by_id[e["event"]["uuid"]]++;
    }
    return {200, R"({"text":"Success","code":0})"};
  });
  TempDir secrets("ks-secret-");
  Harness h;
  SinkConfig s;
  s.kind = "splunk";
  s.url = server.url("/services/collector/event");
  s.token_file = secrets.write("hec.token", "tok-123\n").string();
  s.index = "security";
  h.run(s, 120);
  expect_each_once(store, h);
  EXPECT_GE(h.pipeline->sink_stats()[0].failures, 1u);
}

TEST(HttpSink, ElasticsearchBulkChecksEveryItemAndRetriesOnlyWhatFailed) {
  Store store;
  int bulk_requests = 0;
  HttpTestServer server([&](const HttpRequest& r) -> HttpAnswer {
    std::lock_guard lock(store.mu);
    if (r.path != "/_bulk") return {404, ""};
    if (header(r, "content-type") != "application/x-ndjson") store.violations.push_back("content-type " + header(r, "content-type"));
    if (r.body.empty() || r.body.back() != '\n') store.violations.push_back("NDJSON must end with a newline");
    ++bulk_requests;
    nlohmann::json answer = {{"took", 1}, {"errors", false}, {"items", nlohmann::json::array()}};
    std::istringstream in(r.body);
    std::string action_line, doc_line;
    int item = 0;
    while (std::getline(in, action_line) && std::getline(in, doc_line)) {
      auto action = nlohmann::json::parse(action_line, nullptr, false);
      auto doc = nlohmann::json::parse(doc_line, nullptr, false);
      if (action.is_discarded() || !action.contains("create") || doc.is_discarded()) {
        store.violations.push_back("bad pair: " + action_line);
        continue;
      }
      std::string id = action["create"]["_id"];
      if (action["create"]["_index"] != "kata-sentry") store.violations.push_back("index: " + action_line);
      if (doc.value("uuid", "") != id) store.violations.push_back("_id is not the record id: " + action_line);
      int status;
      // The first bulk request: its 4th item is refused (429), the others stored.
      if (bulk_requests == 1 && item == 3) {
        status = 429;
        answer["errors"] = true;
      } else if (store.by_id.count(id)) {
        status = 409;  // version conflict: create of an existing _id
        answer["errors"] = true;
      } else {
        status = 201;
        store.by_id[id]++;
      }
      answer["items"].push_back({{"create", {{"_index", "kata-sentry"}, {"_id", id}, {"status", status}}}});
      ++item;
    }
    return {200, answer.dump()};
  });
  Harness h;
  SinkConfig s;
  s.kind = "elasticsearch";
  s.url = server.url("/_bulk");
  h.run(s, 120);
  expect_each_once(store, h);
  EXPECT_GE(h.pipeline->sink_stats()[0].failures, 1u) << "the partial failure was not seen";
}

TEST(HttpSink, LokiPushHasLabelledStreamsOfTimestampedLines) {
  Store store;
  HttpTestServer server([&](const HttpRequest& r) -> HttpAnswer {
    std::lock_guard lock(store.mu);
    if (r.path != "/loki/api/v1/push") return {404, ""};
    if (store.answered_errors < 1) {
      ++store.answered_errors;
      return {429, "Ingestion rate limit exceeded"};
    }
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("streams") || !j["streams"].is_array()) {
      store.violations.push_back("not a push body: " + r.body.substr(0, 200));
      return {400, ""};
    }
    for (const auto& s : j["streams"]) {
      if (!s.contains("stream") || !s["stream"].is_object() || s["stream"].value("job", "") != "kata-sentry")
        store.violations.push_back("stream labels: " + s.dump());
      uint64_t prev = 0;
      for (const auto& v : s["values"]) {
        if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string()) {
          store.violations.push_back("value is not [\"<ns>\", \"<line>\"]: " + v.dump());
          continue;
        }
        uint64_t ts = std::stoull(v[0].get<std::string>());
        if (ts < prev) store.violations.push_back("timestamps go back within a stream");
        prev = ts;
        auto line = nlohmann::json::parse(v[1].get<std::string>(), nullptr, false);
        if (line.is_discarded()) store.violations.push_back("line is not JSON");
        else store.by_id[line["uuid"]]++;
      }
    }
    return {204, ""};
  });
  Harness h;
  SinkConfig s;
  s.kind = "loki";
  s.url = server.url("/loki/api/v1/push");
  h.run(s, 120);
  expect_each_once(store, h);
  EXPECT_GE(h.pipeline->sink_stats()[0].failures, 1u);
}

}  // namespace
}  // namespace kata_sentry::exporters
