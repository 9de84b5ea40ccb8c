#include "exporters/sink_config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "core/strict_yaml.h"
#include "exporters/cursor_file.h"
#include "exporters/file_sink.h"
#include "exporters/sink_types.h"

namespace kata_sentry::exporters {
namespace {

Error bad(const std::string& where, const std::string& what) { return Error{ErrorCode::invalid_argument, 0, where + ": " + what}; }

Result<SinkConfig> read_one(const YAML::Node& item, const std::string& origin) {
  const std::string where = config::StrictYaml::where(item, origin);
  if (!item.IsMap()) return std::unexpected(bad(where, "each exporter must be a mapping with a 'type'"));
  std::string type;
  if (item["type"] && item["type"].IsScalar()) type = item["type"].Scalar();
  static const std::vector<std::string> kTypes = {"file", "console", "syslog", "nats", "kafka", "http"};
  if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    return std::unexpected(bad(where, "exporter 'type' must be one of file, console, syslog, nats, kafka, http (got '" + type + "')"));
  SinkConfig c;
  c.type = type;
  c.name = type;
  std::string min_priority = "Debug";
  std::vector<std::string> records = {"alerts", "audit"};
  config::StrictYaml y;
  y.string("type", &c.type);
  y.string("name", &c.name);
  y.choice("min_priority", {"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}, &min_priority);
  y.strings("views", &c.filter.views);
  y.strings("tags", &c.filter.tags);
  y.strings("records", &records);
  y.unsigned_int("batch", &c.batch, 1, 100000);
  y.unsigned_int("backoff_max_ms", &c.backoff_max_ms, 100, 3600000);
  if (type == "file") {
    y.string("path", &c.path);
    y.unsigned_int("max_bytes", &c.max_bytes, 0, 1ull << 40);
    y.unsigned_int("keep", &c.keep, 0, 1000);
  } else if (type == "syslog") {
    y.string("address", &c.address);
    y.choice("transport", {"udp", "tcp", "tls"}, &c.transport);
    y.choice("format", {"json", "cef"}, &c.format);
    y.choice("facility", {"kern", "user", "daemon", "auth", "authpriv", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"},
             &c.facility);
    y.string("app_name", &c.app_name);
    y.unsigned_int("confirm_ms", &c.confirm_ms, 0, 600000);
    y.unsigned_int("max_message_bytes", &c.max_message_bytes, 480, 1 << 20);
    y.string("ca_file", &c.ca_file);
    y.string("cert_file", &c.cert_file);
    y.string("key_file", &c.key_file);
    y.string("server_name", &c.server_name);
  } else if (type == "nats") {
    y.string("url", &c.url);
    y.string("subject", &c.subject);
    y.string("stream", &c.stream);
    y.string("token_file", &c.token_file);
    y.string("creds_file", &c.creds_file);
    y.choice("format", {"json", "cef"}, &c.format);
  } else if (type == "kafka") {
    y.string("brokers", &c.brokers);
    y.string("topic", &c.topic);
    y.choice("format", {"json", "cef"}, &c.format);
  } else if (type == "http") {
    y.choice("kind", {"webhook", "splunk", "elasticsearch", "loki"}, &c.kind);
    y.string("url", &c.url);
    y.string("token_file", &c.token_file);
    y.string("index", &c.index);
    y.unsigned_int("timeout_ms", &c.timeout_ms, 100, 600000);
    y.string("ca_file", &c.ca_file);
  }
  if (auto st = y.load_node(item, origin); !st) return std::unexpected(st.error());
  c.filter.min_rank = priority_rank(min_priority);
  c.filter.alerts = c.filter.audit = c.filter.events = false;
  for (const auto& r : records) {
    if (r == "alerts") c.filter.alerts = true;
    else if (r == "audit") c.filter.audit = true;
    else if (r == "events") c.filter.events = true;
    else return std::unexpected(bad(where, "exporter '" + c.name + "': 'records' may hold alerts, audit, events (got '" + r + "')"));
  }
  for (const auto& v : c.filter.views)
    if (v != "host" && v != "guest") return std::unexpected(bad(where, "exporter '" + c.name + "': 'views' may hold host, guest (got '" + v + "')"));
  auto need = [&](const std::string& value, const char* key) -> Status {
    if (value.empty()) return std::unexpected(bad(where, "exporter '" + c.name + "' (" + type + ") needs '" + key + "'"));
    return {};
  };
  Status st;
  if (type == "file") st = need(c.path, "path");
  if (type == "syslog") st = need(c.address, "address");
  if (type == "nats" || type == "http") st = need(c.url, "url");
  if (type == "kafka") st = need(c.brokers, "brokers");
  if (!st) return std::unexpected(st.error());
  if (type == "syslog" && c.transport == "tls" && c.ca_file.empty())
    return std::unexpected(bad(where, "exporter '" + c.name + "': transport tls needs 'ca_file' (the server's CA)"));
  return c;
}

}  // namespace

Result<std::vector<SinkConfig>> read_sinks_config(const YAML::Node& node, const std::string& origin) {
  if (node.IsNull()) return std::vector<SinkConfig>{};
  if (!node.IsSequence())
    return fail(ErrorCode::invalid_argument, config::StrictYaml::where(node, origin) + ": 'exporters' must be a list of exporters");
  std::vector<SinkConfig> out;
  for (const auto& item : node) {
    auto c = read_one(item, origin);
    if (!c) return std::unexpected(c.error());
    out.push_back(std::move(*c));
  }
  if (auto st = check_sinks(out, origin); !st) return std::unexpected(st.error());
  return out;
}

Status check_sinks(const std::vector<SinkConfig>& sinks, const std::string& where) {
  std::set<std::string> names;
  for (const auto& s : sinks) {
    if (!valid_sink_name(s.name))
      return fail(ErrorCode::invalid_argument, where + ": exporter name '" + s.name + "' must be 1-64 of [A-Za-z0-9_.-]");
    if (!names.insert(s.name).second)
      return fail(ErrorCode::invalid_argument, where + ": two exporters are named '" + s.name + "' (give each a 'name')");
  }
  return {};
}

ExporterOptions exporter_options(const SinkConfig& c) {
  ExporterOptions o;
  o.name = c.name;
  o.filter = c.filter;
  o.batch_records = c.batch;
  o.backoff_max = std::chrono::milliseconds(c.backoff_max_ms);
  return o;
}

Result<std::unique_ptr<Sink>> build_sink(const SinkConfig& c) {
  if (c.type == "file") {
    FileSinkOptions o;
    o.path = c.path;
    o.max_bytes = c.max_bytes;
    o.keep = static_cast<uint32_t>(c.keep);
    auto s = FileSink::open(o);
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<Sink>(std::move(*s));
  }
  if (c.type == "console") return std::unique_ptr<Sink>(std::make_unique<ConsoleSink>());
  return build_network_sink(c);
}

}  // namespace kata_sentry::exporters
