// Syslog (RFC 5424) to a collector over UDP, TCP with octet counting (RFC 6587) or TLS, the
// message being Falco's JSON or CEF (cef.h).
//
// Plain syslog has no application-level acknowledgement. Over TCP/TLS this sink counts a record
// as delivered once the collector's TCP has acknowledged its bytes and the connection then stayed
// up for `confirm_ms` (a collector that is stopped or crashes closes or resets it, and the
// records it may not have processed are sent again: at-least-once, duplicates carry the same
// record id). Over UDP a record counts as delivered when sent: best effort, as UDP is.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "exporters/net_conn.h"
#include "exporters/sink.h"

namespace kata_sentry::exporters {

struct SyslogOptions {
  std::string host;
  std::string port;
  NetConn::Kind transport = NetConn::Kind::tcp;
  bool cef = false;             // else Falco JSON
  int facility = 16;            // local0
  std::string app_name = "kata-sentry";
  std::string hostname;         // "" = this host's name
  std::chrono::milliseconds confirm{2000};
  size_t max_message_bytes = 8192;  // longer messages are cut (and counted); the collector's limit
  TlsOptions tls;
};

class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(SyslogOptions options);
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  Result<uint64_t> confirmed(uint64_t accepted) noexcept override;
  void reset() noexcept override;
  std::string describe() const override;
  uint64_t truncated() const { return truncated_; }

  // The whole message for a record (without framing), for tests and benchmarks.
  std::string message(const ExportRecord& record) const;

 private:
  struct Sent {
    uint64_t accepted_total;  // records accepted up to and including this send
    uint64_t bytes_total;     // bytes written up to and including it
    std::chrono::steady_clock::time_point at;
  };
  SyslogOptions options_;
  std::string hostname_;
  int pid_;
  std::unique_ptr<NetConn> conn_;
  std::deque<Sent> sent_;
  uint64_t accepted_ = 0;
  uint64_t confirmed_ = 0;
  uint64_t bytes_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace kata_sentry::exporters
