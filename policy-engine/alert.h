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
  uint64_t time_ns = 0;
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
  bool enforced = false;                    // enforce mode and an action other than alert
  bool is_sequence = false;
  std::vector<Event> events;                // the event; for a sequence, every step's event
  // Other rules that matched the same operation and were folded into this alert (the
  // monitor reports one alert per guest operation; see runtime/monitor/operation_joiner.h).
  std::vector<std::string> also_matched;
};

nlohmann::ordered_json alert_to_json(const Alert& alert);
std::string alert_to_json_line(const Alert& alert);  // no trailing newline

}  // namespace kata_sentry::policy
