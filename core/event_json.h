// The JSON-lines form of an Event: one flat object keyed by Falco's field names
// ("evt.type", "proc.cmdline", "fd.name", ...) plus "time" (RFC 3339, ns) and "view".
// `kata-sentry trace` writes it, `kata-sentry replay` reads it back; the round trip is
// lossless for every field the Event carries.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry {

std::string event_to_json_line(const Event& event);  // no trailing newline
// The same object as a DOM, for an alert that embeds its events (parsed from the line, so
// the fields are listed once, in event_to_json_line()).
nlohmann::ordered_json event_to_json(const Event& event);

// Fails with ErrorCode::invalid_argument naming the key that is wrong.
Result<Event> event_from_json(const nlohmann::json& object);
Result<Event> event_from_json_line(std::string_view line);

// RFC 3339 UTC with nanoseconds: 2026-11-23T07:35:54.123456789Z.
std::string format_rfc3339_ns(uint64_t unix_ns);
Result<uint64_t> parse_rfc3339_ns(std::string_view text);

// "O_WRONLY|O_CREAT|O_TRUNC" (Falco's rendering of open flags).
std::string format_open_flags(uint64_t flags);
// The inverse for one name ("O_WRONLY" -> 1); nullopt for an unknown name.
std::optional<uint64_t> open_flag_value(std::string_view name);

// A one-line human form for `trace --format text`, made terminal_safe(): guest-chosen
// names, paths and arguments cannot put control bytes or invalid UTF-8 on the terminal.
std::string event_to_text(const Event& event);

}  // namespace kata_sentry
