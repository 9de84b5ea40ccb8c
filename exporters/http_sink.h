// HTTP exporters through libcurl, one connection kept alive:
//   webhook        POST <url>, one Falco JSON payload per request: what falcosidekick's `POST /`
//                  takes, so falcosidekick can fan the records out to its many outputs;
//   splunk         Splunk HEC, POST <url> (/services/collector/event) with
//                  `Authorization: Splunk <token>`, the batch as concatenated event objects;
//   elasticsearch  POST <url> (/_bulk), NDJSON `create` actions whose _id is the record id, so a
//                  record sent twice is refused as a conflict (409, counted as stored); every
//                  item's status is checked and the batch is acknowledged up to the first failure;
//   loki           POST <url> (/loki/api/v1/push), streams labelled job/kind/priority.
// 2xx acknowledges; 429, 5xx and everything else fail the batch and the exporter backs off.
#pragma once

#include <memory>
#include <string>

#include "exporters/sink.h"

typedef void CURL;

namespace kata_sentry::exporters {

enum class HttpKind { webhook, splunk, elasticsearch, loki };

struct HttpOptions {
  HttpKind kind = HttpKind::webhook;
  std::string url;
  std::string token;    // Splunk HEC token; a bearer token for the others (from token_file)
  std::string index;    // Elasticsearch index; Splunk index ("" = the token's default)
  std::string ca_file;  // "" = the system's CAs
  long timeout_ms = 10000;
};

class HttpSink final : public Sink {
 public:
  explicit HttpSink(HttpOptions options);
  ~HttpSink() override;
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  void reset() noexcept override;
  std::string describe() const override;

  // The request bodies, for tests and benchmarks.
  static std::string splunk_body(std::span<const ExportRecord> batch, const std::string& index);
  static std::string bulk_body(std::span<const ExportRecord> batch, const std::string& index);
  static std::string loki_body(std::span<const ExportRecord> batch);

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  Result<Response> post(const std::string& body, const std::string& content_type);
  Result<size_t> bulk_acknowledged(const Response& r, size_t batch_size) const;

  HttpOptions options_;
  CURL* curl_ = nullptr;
};

}  // namespace kata_sentry::exporters
