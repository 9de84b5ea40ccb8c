// A log record as the sinks see it: the record's JSON with the log's own keys added ("uuid",
// the record id, which falcosidekick also uses, and "seq"), plus what filters and formats need.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "exporters/log_format.h"

namespace kata_sentry::exporters {

struct ExportRecord {
  uint64_t seq = 0;
  std::string id;  // UUID text
  RecordKind kind = RecordKind::alert;
  uint64_t host_time_ns = 0;
  nlohmann::ordered_json doc;  // the payload, "uuid" and "seq" added; an object
};

// Fails (protocol) when the payload is not a JSON object.
Result<ExportRecord> to_export_record(const Record& record);

// Falco's JSON, one line without newline (non-UTF-8 replaced, never thrown on).
std::string json_line(const ExportRecord& record);

// Falco's payload for any record (what falcosidekick's POST / decodes): an alert as it is; an
// audit record, checkpoint or event wrapped with output, priority, rule "kata-sentry <kind>",
// source, tags, time, hostname, and the record itself as output_fields.
std::string falco_payload_line(const ExportRecord& record);

// Falco priorities, most severe first: Emergency=0 ... Debug=7 (also syslog's severities).
// -1 for a name that is not one.
int priority_rank(std::string_view name);
// The record's priority rank: an alert's own; an audit record's is Error when the action failed,
// else Informational; checkpoints and events Informational.
int record_rank(const ExportRecord& record);

// A string field of the doc, or "" (also for output_fields.<key> via field()).
std::string doc_string(const ExportRecord& record, const char* key);
// An output field ("proc.name") as text, or "".
std::string output_field(const ExportRecord& record, const char* key);

}  // namespace kata_sentry::exporters
