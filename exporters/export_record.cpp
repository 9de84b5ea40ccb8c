#include "exporters/export_record.h"

#include <array>

namespace kata_sentry::exporters {

Result<ExportRecord> to_export_record(const Record& r) {
  ExportRecord e;
  e.seq = r.seq;
  e.id = uuid_text(r.id);
  e.kind = r.kind;
  e.host_time_ns = r.host_time_ns;
  e.doc = nlohmann::ordered_json::parse(r.payload, nullptr, false);
  if (e.doc.is_discarded() || !e.doc.is_object())
    return fail(ErrorCode::protocol, "record seq " + std::to_string(r.seq) + ": payload is not a JSON object");
  e.doc["uuid"] = e.id;
  e.doc["seq"] = e.seq;
  return e;
}

std::string json_line(const ExportRecord& r) { return r.doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string falco_payload_line(const ExportRecord& r) {
  if (r.kind == RecordKind::alert) return json_line(r);
  static constexpr const char* kNames[] = {"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"};
  const std::string kind(kind_name(r.kind));
  std::string what = r.kind == RecordKind::audit        ? doc_string(r, "detail")
                     : r.kind == RecordKind::checkpoint ? "signed checkpoint of the audit log up to seq " + doc_string(r, "covers_seq")
                                                        : doc_string(r, "evt.type");
  nlohmann::ordered_json j;
  j["hostname"] = doc_string(r, "hostname");
  j["output"] = "kata-sentry " + kind + ": " + what;
  j["output_fields"] = r.doc;
  j["priority"] = kNames[record_rank(r)];
  j["rule"] = "kata-sentry " + kind;
  j["source"] = "kata-sentry";
  j["tags"] = nlohmann::ordered_json::array({kind});
  std::string time = doc_string(r, "time");
  j["time"] = time.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(time);
  j["uuid"] = r.id;
  j["seq"] = r.seq;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int priority_rank(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kNames = {"Emergency", "Alert",  "Critical",      "Error",
                                                             "Warning",   "Notice", "Informational", "Debug"};
  for (size_t i = 0; i < kNames.size(); ++i) {
    const auto& n = kNames[i];
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < n.size(); ++k) same &= std::tolower(static_cast<unsigned char>(n[k])) == std::tolower(static_cast<unsigned char>(name[k]));
    if (same) return static_cast<int>(i);
  }
  if (name == "info" || name == "Info" || name == "INFO") return 6;
  return -1;
}

int record_rank(const ExportRecord& r) {
  if (r.kind == RecordKind::alert) {
    int p = priority_rank(doc_string(r, "priority"));
    return p < 0 ? 4 : p;
  }
  if (r.kind == RecordKind::audit) {
    auto it = r.doc.find("ok");
    return it != r.doc.end() && it->is_boolean() && !it->get<bool>() ? 3 : 6;
  }
  return 6;
}

std::string doc_string(const ExportRecord& r, const char* key) {
  auto it = r.doc.find(key);
  if (it == r.doc.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_null()) return "";
  return it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string output_field(const ExportRecord& r, const char* key) {
  auto of = r.doc.find("output_fields");
  if (of == r.doc.end() || !of->is_object()) return "";
  auto it = of->find(key);
  if (it == of->end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kata_sentry::exporters
