#include "policy-engine/rule.h"

#include <algorithm>
#include <array>

namespace kata_sentry::policy {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return o;
}
constexpr std::array<std::string_view, 8> kPriorityNames = {"Emergency", "Alert",  "Critical",      "Error",
                                                            "Warning",   "Notice", "Informational", "Debug"};
constexpr std::array<std::string_view, 4> kActionNames = {"alert", "deny", "kill", "kill_sandbox"};

}  // namespace

std::optional<Priority> priority_from_name(std::string_view name) {
  std::string n = lower(name);
  if (n == "info") return Priority::informational;
  for (size_t i = 0; i < kPriorityNames.size(); ++i)
    if (lower(kPriorityNames[i]) == n) return static_cast<Priority>(i);
  return std::nullopt;
}
std::string_view priority_name(Priority p) { return kPriorityNames[static_cast<size_t>(p)]; }

std::optional<Action> action_from_name(std::string_view name) {
  for (size_t i = 0; i < kActionNames.size(); ++i)
    if (kActionNames[i] == name) return static_cast<Action>(i);
  return std::nullopt;
}
std::string_view action_name(Action a) { return kActionNames[static_cast<size_t>(a)]; }

}  // namespace kata_sentry::policy
