// The sinks that talk to a server (syslog, NATS, Kafka, HTTP), built from their config.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "exporters/sink.h"

namespace kata_sentry::exporters {

struct SinkConfig;
// A token or password from its file (trailing newline removed). Fails naming the file.
Result<std::string> read_secret(const std::string& path);
Result<std::unique_ptr<Sink>> build_network_sink(const SinkConfig& config);

}  // namespace kata_sentry::exporters
