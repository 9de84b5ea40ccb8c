#include "monitor/audit_record.h"

#include "core/event_json.h"

namespace kata_sentry::monitor {

nlohmann::ordered_json audit_to_json(const AuditRecord& r, const std::string& hostname) {
  nlohmann::ordered_json j;
  j["audit"] = true;
  j["time"] = format_rfc3339_ns(r.time_ns);
  j["hostname"] = hostname;
  j["rule"] = r.rule;
  j["sandbox"] = r.sandbox_id;
  j["sandbox_name"] = r.sandbox_name;
  j["view"] = view_name(r.view);
  j["action"] = policy::action_name(r.action);
  j["ok"] = r.ok;
  j["detail"] = r.detail;
  return j;
}

std::string audit_to_json_line(const AuditRecord& r, const std::string& hostname) {
  return audit_to_json(r, hostname).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kata_sentry::monitor
