// The `exporters:` section: a list of sinks, each a mapping with a `type` and the keys of that
// type, read strictly (an unknown key, or a key of another type, is an error naming
// file:line:column). Secrets (tokens, TLS keys) are named by file, never given inline.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "exporters/exporter.h"
#include "exporters/sink.h"

namespace YAML {
class Node;
}

namespace kata_sentry::exporters {

struct SinkConfig {
  std::string name;   // unique; the cursor's file name (default: the type)
  std::string type;   // file | console | syslog | nats | kafka | http
  SinkFilter filter;
  uint64_t batch = 500;
  uint64_t backoff_max_ms = 30000;  // retries back off exponentially (with jitter) up to this
  std::string format = "json";  // json | cef (syslog); json elsewhere
  // file
  std::string path;
  uint64_t max_bytes = 0;
  uint64_t keep = 5;
  // syslog
  std::string address;            // host:port
  std::string transport = "tcp";  // udp | tcp | tls
  std::string facility = "local0";
  std::string app_name = "kata-sentry";
  uint64_t confirm_ms = 2000;     // tcp/tls: how long the connection must outlive a send before it counts as delivered
  uint64_t max_message_bytes = 8192;
  std::string ca_file, cert_file, key_file, server_name;  // tls
  // nats
  std::string url;                // nats://host:port (also http: the endpoint)
  std::string subject = "kata-sentry.records";
  std::string stream;             // JetStream stream to create if missing ("" = must exist)
  std::string token_file;         // nats token, Splunk HEC token, bearer token
  std::string creds_file;         // nats .creds
  // kafka
  std::string brokers;            // host:port,...
  std::string topic = "kata-sentry";
  // http
  std::string kind = "webhook";   // webhook | splunk | elasticsearch | loki
  std::string index = "kata-sentry";  // elasticsearch index, Splunk index ("" = the token's default)
  uint64_t timeout_ms = 10000;
};

// Reads the list. `origin` names the file.
Result<std::vector<SinkConfig>> read_sinks_config(const YAML::Node& node, const std::string& origin);
// Checks names are unique and valid; `where` prefixes errors.
Status check_sinks(const std::vector<SinkConfig>& sinks, const std::string& where);

// The sink a config describes. Reads secret files now; connects lazily (an unreachable
// destination is retried by the exporter, never fatal).
Result<std::unique_ptr<Sink>> build_sink(const SinkConfig& config);
ExporterOptions exporter_options(const SinkConfig& config);

}  // namespace kata_sentry::exporters
