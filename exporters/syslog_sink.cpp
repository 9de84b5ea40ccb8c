#include "exporters/syslog_sink.h"

#include <unistd.h>

#include "exporters/audit_log.h"
#include "exporters/cef.h"
#include "exporters/syslog_format.h"

#ifndef KS_VERSION
#define KS_VERSION "0"
#endif

namespace kata_sentry::exporters {

SyslogSink::SyslogSink(SyslogOptions o)
    : options_(std::move(o)), hostname_(options_.hostname.empty() ? local_hostname() : options_.hostname), pid_(static_cast<int>(::getpid())) {}

std::string SyslogSink::describe() const {
  const char* t = options_.transport == NetConn::Kind::udp ? "udp" : options_.transport == NetConn::Kind::tcp ? "tcp" : "tls";
  return std::string("syslog ") + t + " " + options_.host + ":" + options_.port + (options_.cef ? " cef" : " json");
}

std::string SyslogSink::message(const ExportRecord& r) const {
  std::string body = options_.cef ? to_cef(r, KS_VERSION) : json_line(r);
  return rfc5424(r, options_.facility, hostname_, options_.app_name, pid_, body);
}

Result<size_t> SyslogSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    if (conn_ && !conn_->alive()) {
      reset();
      return fail(ErrorCode::unavailable, describe() + ": the collector closed the connection");
    }
    if (!conn_) {
      auto c = NetConn::connect(options_.transport, options_.host, options_.port, options_.tls, std::chrono::seconds(5));
      if (!c) return std::unexpected(c.error());
      conn_ = std::move(*c);
      accepted_ = confirmed_ = bytes_ = 0;
      sent_.clear();
    }
    if (options_.transport == NetConn::Kind::udp) {
      size_t n = 0;
      for (const auto& r : batch) {
        std::string m = message(r);
        if (m.size() > options_.max_message_bytes) {
          m.resize(options_.max_message_bytes);
          ++truncated_;
        }
        if (auto st = conn_->send(m); !st) {
          reset();
          if (n) break;
          return std::unexpected(st.error());
        }
        ++n;
      }
      accepted_ += n;
      return n;
    }
    // One write for the batch: the frames carry their own lengths.
    std::string out;
    for (const auto& r : batch) {
      std::string m = message(r);
      if (m.size() > options_.max_message_bytes) {
        m.resize(options_.max_message_bytes);
        ++truncated_;
      }
      out += octet_counted(m);
    }
    if (auto st = conn_->send(out); !st) {
      reset();
      return std::unexpected(st.error());
    }
    accepted_ += batch.size();
    bytes_ += out.size();
    sent_.push_back({accepted_, bytes_, std::chrono::steady_clock::now()});
    return batch.size();
  } catch (...) {
    reset();
    return fail(ErrorCode::internal, describe() + ": out of memory");
  }
}

Result<uint64_t> SyslogSink::confirmed(uint64_t accepted) noexcept {
  if (options_.transport == NetConn::Kind::udp) return accepted;
  if (!conn_ && accepted == 0) return uint64_t{0};  // nothing sent since the last reset: nothing to lose
  if (!conn_ || !conn_->alive()) {
    reset();
    return fail(ErrorCode::unavailable, describe() + ": the collector closed the connection");
  }
  const uint64_t unacked = conn_->unacked_bytes();
  const auto ripe = std::chrono::steady_clock::now() - options_.confirm;
  while (!sent_.empty()) {
    const Sent& s = sent_.front();
    // The send's bytes left the queue (TLS adds bytes, so this check is only stricter), and the
    // collector kept the connection long enough after them to have taken them in.
    if (s.at > ripe || unacked > bytes_ - s.bytes_total) break;
    confirmed_ = s.accepted_total;
    sent_.pop_front();
  }
  return confirmed_;
}

void SyslogSink::reset() noexcept {
  conn_.reset();
  sent_.clear();
  accepted_ = confirmed_ = bytes_ = 0;
}

}  // namespace kata_sentry::exporters
