// Linux capability names: the one table (OCI specs name capabilities, events carry the sets
// as bits, rules and outputs show them as Falco does: "CAP_CHOWN CAP_SYS_ADMIN"). Pure
// lookups; nothing here fails other than by returning std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kata_sentry {

// "CAP_CHOWN" → 0 ... "CAP_CHECKPOINT_RESTORE" → 40.
std::optional<int> capability_from_name(std::string_view name);
// Every capability name we know, in number order.
const std::vector<std::string_view>& all_capability_names();

// A set as Falco's thread.cap_* render it: the names of the set bits in number order,
// space-separated ("" for the empty set); a bit beyond the table is "CAP_<n>".
std::string capability_set_text(uint64_t bits);
// The inverse; nullopt naming nothing when a word is not a capability.
std::optional<uint64_t> capability_set_from_text(std::string_view text);

}  // namespace kata_sentry
