#include "policy-engine/alert.h"

#include "core/event_json.h"

namespace kata_sentry::policy {

nlohmann::ordered_json alert_to_json(const Alert& a) {
  // Falco's "output" starts with the event time and the priority.
  std::string stamp = format_rfc3339_ns(a.time_ns);  // 2026-11-23T07:35:54.123456789Z
  std::string clock = stamp.size() > 20 ? stamp.substr(11, stamp.size() - 12) : stamp;
  nlohmann::ordered_json j;
  j["hostname"] = a.hostname;
  j["output"] = clock + ": " + std::string(priority_name(a.priority)) + " " + a.output;
  j["output_fields"] = a.output_fields;
  j["priority"] = priority_name(a.priority);
  j["rule"] = a.rule;
  j["source"] = a.source;
  j["tags"] = a.tags;
  j["time"] = stamp;
  if (a.host_time_ns != 0 && a.host_time_ns != a.time_ns) j["host_time"] = format_rfc3339_ns(a.host_time_ns);
  j["sandbox"] = a.sandbox;
  j["view"] = view_name(a.view);
  j["action"] = action_name(a.action);
  j["enforced"] = a.enforced;
  if (a.guest_reports_denied) j["guest_reports_denied"] = true;
  if (!a.also_matched.empty()) j["also_matched"] = a.also_matched;
  if (a.is_sequence) {
    auto events = nlohmann::ordered_json::array();
    for (const auto& e : a.events) events.push_back(event_to_json(e));
    j["events"] = std::move(events);
  }
  return j;
}

std::string alert_to_json_line(const Alert& a) {
  return alert_to_json(a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kata_sentry::policy
