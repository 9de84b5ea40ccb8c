// A minimal HTTP/1.1 GET over TCP/IPv4 (one request per connection, no TLS, no chunked
// encoding): `kata-sentry check` asks kata-sentryd's /metrics whether it answers, and tests
// read a scrape and Prometheus's HTTP API with it.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace kata_sentry {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// `host`: an IPv4 literal. Fails (unavailable / io / protocol) naming host:port and path.
Result<HttpResponse> http_get(const std::string& host, uint16_t port, const std::string& path_and_query, int timeout_s = 10);

}  // namespace kata_sentry
