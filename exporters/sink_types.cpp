#include "exporters/sink_types.h"

#include "core/read_file.h"

#include "exporters/http_sink.h"
#include "exporters/kafka_sink.h"
#include "exporters/nats_sink.h"
#include "exporters/sink_config.h"
#include "exporters/syslog_format.h"
#include "exporters/syslog_sink.h"

namespace kata_sentry::exporters {

Result<std::string> read_secret(const std::string& path) {
  auto text = read_small_file(path, 64 << 10);
  if (!text) return fail_errno("read secret file " + path);
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return fail(ErrorCode::invalid_argument, "secret file " + path + " is empty");
  return s;
}

Result<std::unique_ptr<Sink>> build_network_sink(const SinkConfig& c) {
  if (c.type == "syslog") {
    auto hp = split_host_port(c.address);
    if (!hp) return std::unexpected(hp.error());
    SyslogOptions o;
    o.host = hp->first;
    o.port = hp->second;
    o.transport = c.transport == "udp" ? NetConn::Kind::udp : c.transport == "tls" ? NetConn::Kind::tls : NetConn::Kind::tcp;
    o.cef = c.format == "cef";
    o.facility = syslog_facility(c.facility);
    o.app_name = c.app_name;
    o.confirm = std::chrono::milliseconds(c.confirm_ms);
    o.max_message_bytes = c.max_message_bytes;
    o.tls = TlsOptions{c.ca_file, c.cert_file, c.key_file, c.server_name};
    return std::unique_ptr<Sink>(std::make_unique<SyslogSink>(std::move(o)));
  }
  if (c.type == "nats") {
    NatsOptions o;
    o.url = c.url;
    o.subject = c.subject;
    o.stream = c.stream;
    o.creds_file = c.creds_file;
    o.cef = c.format == "cef";
    if (!c.token_file.empty()) {
      auto t = read_secret(c.token_file);
      if (!t) return std::unexpected(t.error());
      o.token = *t;
    }
    return std::unique_ptr<Sink>(std::make_unique<NatsSink>(std::move(o)));
  }
  if (c.type == "http") {
    HttpOptions o;
    o.kind = c.kind == "splunk" ? HttpKind::splunk : c.kind == "elasticsearch" ? HttpKind::elasticsearch : c.kind == "loki" ? HttpKind::loki
                                                                                                                      : HttpKind::webhook;
    o.url = c.url;
    o.index = c.index;
    o.ca_file = c.ca_file;
    o.timeout_ms = static_cast<long>(c.timeout_ms);
    if (!c.token_file.empty()) {
      auto t = read_secret(c.token_file);
      if (!t) return std::unexpected(t.error());
      o.token = *t;
    }
    if (o.kind == HttpKind::splunk && o.token.empty())
      return fail(ErrorCode::invalid_argument, "exporter '" + c.name + "': Splunk HEC needs 'token_file'");
    return std::unique_ptr<Sink>(std::make_unique<HttpSink>(std::move(o)));
  }
  if (c.type == "kafka") {
    KafkaOptions o;
    o.brokers = c.brokers;
    o.topic = c.topic;
    o.cef = c.format == "cef";
    return std::unique_ptr<Sink>(std::make_unique<KafkaSink>(std::move(o)));
  }
  return fail(ErrorCode::invalid_argument, "exporter '" + c.name + "': unknown type " + c.type);
}

}  // namespace kata_sentry::exporters
