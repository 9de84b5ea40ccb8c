#include "exporters/cef.h"

#include <array>
#include <utility>
#include <vector>

namespace kata_sentry::exporters {

std::string cef_escape_header(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (c == '\\' || c == '|') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n' || c == '\r') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string cef_escape_value(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (c == '\\' || c == '=') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool cef_valid_key(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

int cef_severity(int rank) {
  static constexpr std::array<int, 8> kMap = {10, 9, 8, 7, 6, 4, 3, 1};
  return rank >= 0 && rank < 8 ? kMap[static_cast<size_t>(rank)] : 5;
}

namespace {

// A stable, short signature id per rule, so that a SIEM can key on it: "ks-" + 12 hex digits of
// the rule name's SHA-256.
std::string signature_id(const std::string& rule) {
  auto h = sha256(rule);
  return "ks-" + hex(std::span<const uint8_t>(h.data(), 6));
}

}  // namespace

std::string to_cef(const ExportRecord& r, std::string_view version) {
  std::string sig, name;
  std::vector<std::pair<std::string, std::string>> ext;
  auto add = [&](std::string key, std::string value) {
    if (!value.empty() && cef_valid_key(key)) ext.emplace_back(std::move(key), std::move(value));
  };
  // A custom field's label only when it has a value.
  auto labelled = [&](const std::string& key, std::string label, std::string value) {
    if (value.empty()) return;
    add(key + "Label", std::move(label));
    add(key, std::move(value));
  };
  uint64_t rt_ms = r.host_time_ns / 1'000'000;
  add("rt", std::to_string(rt_ms));
  add("dvchost", doc_string(r, "hostname"));
  add("externalId", r.id);
  labelled("cn1", "seq", std::to_string(r.seq));
  switch (r.kind) {
    case RecordKind::alert: {
      std::string rule = doc_string(r, "rule");
      sig = signature_id(rule);
      name = rule;
      add("msg", doc_string(r, "output"));
      add("act", doc_string(r, "action"));
      add("outcome", r.doc.value("enforced", false) ? "enforced" : "not enforced");
      add("suser", output_field(r, "user.name"));
      add("suid", output_field(r, "user.uid"));
      add("sproc", output_field(r, "proc.name"));
      add("spid", output_field(r, "proc.pid"));
      add("filePath", output_field(r, "fd.name"));
      labelled("cs1", "sandbox", doc_string(r, "sandbox"));
      labelled("cs2", "view", doc_string(r, "view"));
      labelled("cs3", "container", output_field(r, "container.id"));
      labelled("cs4", "cmdline", output_field(r, "proc.cmdline"));
      std::string tags;
      if (auto it = r.doc.find("tags"); it != r.doc.end() && it->is_array())
        for (const auto& t : *it)
          if (t.is_string()) tags += (tags.empty() ? "" : ",") + t.get<std::string>();
      labelled("cs5", "tags", tags);
      break;
    }
    case RecordKind::audit: {
      std::string action = doc_string(r, "action");
      if (action.empty()) action = doc_string(r, "component");
      sig = "ks-audit-" + action;
      name = "Audit " + action + (r.doc.value("ok", true) ? "" : " failed");
      add("msg", doc_string(r, "detail"));
      add("act", action);
      add("outcome", r.doc.value("ok", true) ? "success" : "failure");
      labelled("cs1", "sandbox", doc_string(r, "sandbox"));
      labelled("cs2", "view", doc_string(r, "view"));
      labelled("cs3", "rule", doc_string(r, "rule"));
      break;
    }
    case RecordKind::checkpoint:
      sig = "ks-checkpoint";
      name = "Audit log checkpoint";
      labelled("cn2", "covers_seq", doc_string(r, "covers_seq"));
      labelled("cs1", "head", doc_string(r, "head"));
      labelled("cs2", "signature", doc_string(r, "signature"));
      labelled("cs3", "key", doc_string(r, "key"));
      labelled("cs4", "log_id", doc_string(r, "log_id"));
      break;
    case RecordKind::event:
      sig = "ks-event-" + doc_string(r, "evt.type");
      name = "Event " + doc_string(r, "evt.type");
      add("sproc", doc_string(r, "proc.name"));
      add("spid", doc_string(r, "proc.pid"));
      add("filePath", doc_string(r, "fd.name"));
      labelled("cs1", "sandbox", doc_string(r, "sandbox.id"));
      labelled("cs2", "view", doc_string(r, "view"));
      break;
  }
  std::string out = "CEF:0|kata-sentry|kata-sentry|" + cef_escape_header(version) + "|" + cef_escape_header(sig) + "|" +
                    cef_escape_header(name) + "|" + std::to_string(cef_severity(record_rank(r))) + "|";
  bool first = true;
  for (const auto& [k, v] : ext) {
    if (!first) out.push_back(' ');
    first = false;
    out += k + "=" + cef_escape_value(v);
  }
  return out;
}

}  // namespace kata_sentry::exporters
