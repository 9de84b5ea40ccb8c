// HTTP helpers for tests that read a real server's answer (a scrape of kata-sentryd's
// /metrics, Prometheus's HTTP API): core/http_get.h on loopback, a free port, URL encoding.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cctype>
#include <string>

#include "core/http_get.h"

namespace kata_sentry::testing {

// A loopback GET.
inline Result<HttpResponse> http_get(uint16_t port, const std::string& path_and_query, int timeout_s = 10) {
  return kata_sentry::http_get("127.0.0.1", port, path_and_query, timeout_s);
}

// A TCP port on loopback that was free a moment ago (for a server that cannot bind port 0
// and report it).
inline uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// "a b" → "a%20b": for PromQL in a query string.
inline std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace kata_sentry::testing
