#include "exporters/http_sink.h"

#include <curl/curl.h>

#include <map>

#include <nlohmann/json.hpp>

namespace kata_sentry::exporters {
namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

const char* kind_text(HttpKind k) {
  switch (k) {
    case HttpKind::webhook: return "webhook";
    case HttpKind::splunk: return "splunk";
    case HttpKind::elasticsearch: return "elasticsearch";
    case HttpKind::loki: return "loki";
  }
  return "?";
}

std::string dump(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

HttpSink::HttpSink(HttpOptions o) : options_(std::move(o)) {
  static const bool global = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)global;
}

HttpSink::~HttpSink() { reset(); }

void HttpSink::reset() noexcept {
  if (curl_) curl_easy_cleanup(curl_);
  curl_ = nullptr;
}

std::string HttpSink::describe() const { return std::string("http ") + kind_text(options_.kind) + " " + options_.url; }

Result<HttpSink::Response> HttpSink::post(const std::string& body, const std::string& content_type) {
  if (!curl_) curl_ = curl_easy_init();
  if (!curl_) return fail(ErrorCode::internal, "libcurl: cannot make a handle");
  Response r;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  if (!options_.token.empty()) {
    std::string auth = options_.kind == HttpKind::splunk ? "Authorization: Splunk " + options_.token : "Authorization: Bearer " + options_.token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl_, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(options_.timeout_ms, 5000));
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl_, CURLOPT_USERAGENT, "kata-sentry");
  if (!options_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, options_.ca_file.c_str());
  CURLcode rc = curl_easy_perform(curl_);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    reset();
    return fail(ErrorCode::unavailable, "POST " + options_.url + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

std::string HttpSink::splunk_body(std::span<const ExportRecord> batch, const std::string& index) {
  std::string out;
  for (const auto& r : batch) {
    nlohmann::ordered_json e;
    e["time"] = static_cast<double>(r.host_time_ns / 1'000'000) / 1000.0;
    e["host"] = doc_string(r, "hostname");
    e["source"] = "kata-sentry";
    e["sourcetype"] = "_json";
    if (!index.empty()) e["index"] = index;
    e["event"] = r.doc;
    out += dump(e);
    out += "\n";
  }
  return out;
}

std::string HttpSink::bulk_body(std::span<const ExportRecord> batch, const std::string& index) {
  std::string out;
  for (const auto& r : batch) {
    nlohmann::ordered_json action;
    action["create"] = {{"_index", index}, {"_id", r.id}};
    out += dump(action) + "\n" + json_line(r) + "\n";
  }
  return out;
}

std::string HttpSink::loki_body(std::span<const ExportRecord> batch) {
  // One stream per label set, values in the log's order (so time order within a stream).
  std::map<std::string, nlohmann::ordered_json> streams;
  for (const auto& r : batch) {
    std::string kind(kind_name(r.kind));
    std::string priority = r.kind == RecordKind::alert ? doc_string(r, "priority") : "";
    auto& s = streams[kind + "/" + priority];
    if (s.is_null()) {
      s["stream"] = {{"job", "kata-sentry"}, {"kind", kind}};
      if (!priority.empty()) s["stream"]["priority"] = priority;
      s["values"] = nlohmann::ordered_json::array();
    }
    s["values"].push_back({std::to_string(r.host_time_ns), json_line(r)});
  }
  nlohmann::ordered_json body;
  body["streams"] = nlohmann::ordered_json::array();
  for (auto& [k, s] : streams) body["streams"].push_back(std::move(s));
  return dump(body);
}

Result<size_t> HttpSink::bulk_acknowledged(const Response& r, size_t n) const {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("items") || !j["items"].is_array())
    return fail(ErrorCode::protocol, "POST " + options_.url + ": the _bulk answer has no items");
  const auto& items = j["items"];
  size_t ok = 0;
  for (; ok < n && ok < items.size(); ++ok) {
    const auto& item = items[ok];
    if (!item.is_object() || item.empty()) break;
    const auto& result = item.begin().value();
    int status = result.value("status", 0);
    // 409: a document with this record id exists: stored by an earlier, unacknowledged try.
    if (!((status >= 200 && status < 300) || status == 409)) break;
  }
  if (ok == 0) return fail(ErrorCode::unavailable, "POST " + options_.url + ": the first item failed (" + items[0].dump() + ")");
  return ok;
}

Result<size_t> HttpSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    auto check = [&](const Result<Response>& r) -> Status {
      if (!r) return std::unexpected(r.error());
      if (r->status < 200 || r->status >= 300)
        return fail(ErrorCode::unavailable, "POST " + options_.url + ": HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200));
      return {};
    };
    switch (options_.kind) {
      case HttpKind::webhook: {
        size_t n = 0;
        for (const auto& rec : batch) {
          auto st = check(post(falco_payload_line(rec), "application/json"));
          if (!st) return n ? Result<size_t>(n) : std::unexpected(st.error());
          ++n;
        }
        return n;
      }
      case HttpKind::splunk: {
        if (auto st = check(post(splunk_body(batch, options_.index), "application/json")); !st) return std::unexpected(st.error());
        return batch.size();
      }
      case HttpKind::elasticsearch: {
        auto r = post(bulk_body(batch, options_.index), "application/x-ndjson");
        if (auto st = check(r); !st) return std::unexpected(st.error());
        return bulk_acknowledged(*r, batch.size());
      }
      case HttpKind::loki: {
        if (auto st = check(post(loki_body(batch), "application/json")); !st) return std::unexpected(st.error());
        return batch.size();
      }
    }
    return fail(ErrorCode::internal, "http sink: unknown kind");
  } catch (...) {
    return fail(ErrorCode::internal, describe() + ": out of memory");
  }
}

}  // namespace kata_sentry::exporters
