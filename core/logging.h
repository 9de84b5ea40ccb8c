// One named spdlog logger per component ("runtime", "shim", "vm", "agent", "probes",
// "policy", "export"), all writing to stderr so stdout stays for data (events, alerts).
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace kata_sentry {

// Returns the component's logger, creating it on first use. Never fails.
std::shared_ptr<spdlog::logger> logger(const std::string& component);

// Sets the level of every logger, present and future: "debug", "info", "warn", "error".
void set_log_level(const std::string& level);

}  // namespace kata_sentry
