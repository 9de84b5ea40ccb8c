// A client stream to a server: TCP, or TLS over it (OpenSSL, the server verified against a CA
// file and its name), and a connected UDP socket. Blocking with timeouts; used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"

namespace kata_sentry::exporters {

struct TlsOptions {
  std::string ca_file;
  std::string cert_file;    // client certificate (optional)
  std::string key_file;     // its key (optional)
  std::string server_name;  // name to verify; "" = the host
};

class NetConn {
 public:
  enum class Kind { udp, tcp, tls };
  // Resolves host:port and connects within `timeout`. Fails naming the address.
  static Result<std::unique_ptr<NetConn>> connect(Kind kind, const std::string& host, const std::string& port, const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout);
  ~NetConn();
  NetConn(const NetConn&) = delete;
  NetConn& operator=(const NetConn&) = delete;

  // All of `bytes` (one datagram for UDP), or an error.
  Status send(std::string_view bytes);
  // False once the peer has closed or reset the connection (never waits).
  bool alive() const;
  // Bytes sent but not yet acknowledged by the peer's TCP (0 for UDP).
  uint64_t unacked_bytes() const;

 private:
  NetConn() = default;
  struct Tls;
  Kind kind_ = Kind::tcp;
  std::string where_;
  UniqueFd fd_;
  std::unique_ptr<Tls> tls_;
};

// Splits "host:port" / "[v6]:port". Fails naming the text.
Result<std::pair<std::string, std::string>> split_host_port(const std::string& address);

}  // namespace kata_sentry::exporters
