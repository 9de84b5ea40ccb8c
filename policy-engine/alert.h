// An alert: what a rule (or sequence) decided about an event, in Falco's JSON form so
// that falcosidekick and SIEM parsers accept it unchanged, plus kata-sentry's keys
// (sandbox, view, action, enforced).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "policy-engine/rule.h"

namespace kata_sentry::policy {

struct Alert {
  uint64_t time_ns = 0;                     // the event's own time (a guest's clock for guest events)
  uint64_t host_time_ns = 0;                // when the host received the event; 0 = same as time_ns
  std::string rule;
  Priority priority = Priority::warning;
  std::string source = "syscall";
  std::string output;                       // rendered message (without Falco's time prefix)
  nlohmann::ordered_json output_fields = nlohmann::ordered_json::object();
  std::vector<std::string> tags;
  std::string hostname;
  std::string sandbox;                      // sandbox.id of the (last) event
  View view = View::host;
  Action action = Action::alert;
  // The host carried out the action, or (deny) corroborated the kernel's refusal: the deny
  // set it installed covers the operation and the record says refused.
  bool enforced = false;
  // The guest's record says refused, but the host could not corroborate it (no deny rule it
  // installed covers the operation): reported, never counted as enforced.
  bool guest_reports_denied = false;
  bool is_sequence = false;
  std::vector<Event> events;                // the event; for a sequence, every step's event
  // Other rules that matched the same operation and were folded into this alert (the
  // monitor reports one alert per guest operation; see monitor/operation_joiner.h).
  std::vector<std::string> also_matched;
};

nlohmann::ordered_json alert_to_json(const Alert& alert);
std::string alert_to_json_line(const Alert& alert);  // no trailing newline

}  // namespace kata_sentry::policy
