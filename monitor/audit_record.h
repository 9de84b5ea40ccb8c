// What the runtime did (or tried to do) because of an alert or a policy push, and its JSON
// form in the audit log (exporters/): "audit": true tells it from an alert with one key.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "policy-engine/alert.h"

namespace kata_sentry::monitor {

// `detail` says it in plain words: "denied in-kernel by guest LSM", "killed guest pid 123 with
// SIGKILL", "stopped VM over QMP".
struct AuditRecord {
  uint64_t time_ns = 0;
  std::string rule;          // the alert's rule; "" for sandbox-wide actions (policy push)
  std::string sandbox_id;
  std::string sandbox_name;
  View view = View::guest;   // the side the action was taken on
  policy::Action action = policy::Action::alert;
  bool ok = true;            // false: the action was attempted and failed (detail says why)
  std::string detail;
};

nlohmann::ordered_json audit_to_json(const AuditRecord& record, const std::string& hostname);
// One line, no newline; text that is not UTF-8 (a guest's file name) is replaced, never thrown on.
std::string audit_to_json_line(const AuditRecord& record, const std::string& hostname);

}  // namespace kata_sentry::monitor
