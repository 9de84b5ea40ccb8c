// In-kernel filtering beyond event types: per event type, a necessary condition on the
// record's path (fd.name and the type's path argument) and on its comm (proc.name), derived
// from the loaded rules (policy-engine/field_filters.h) and written into the probes' maps
// (syscall-probes). A record whose path or comm matches none of its type's entries cannot
// match any rule, so the probes never build or copy it.
//
// Every set here over-approximates: a filter may let through events no rule matches, never
// the other way round. "No entry for a type" and "nullopt" both mean: no condition.
#pragma once

#include <bitset>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <linux/types.h>

#include "core/event.h"
#include "kata_sentry/event_abi.h"
#include "kata_sentry/field_filter_abi.h"

namespace kata_sentry {

// The value equals `text`, or (prefix) starts with it.
struct StringMatch {
  std::string text;
  bool prefix = false;
  auto operator<=>(const StringMatch&) const = default;
};

// A necessary condition on one string field: it matches one of these. nullopt: any value.
using StringMatches = std::optional<std::set<StringMatch>>;

struct TypeFieldFilter {
  StringMatches path;
  StringMatches comm;
  bool operator==(const TypeFieldFilter&) const = default;
};

// Per event type; a type with no entry has no condition.
using FieldFilters = std::map<EventType, TypeFieldFilter>;
using TypeMask = std::bitset<kEventTypeSlots>;

// What the kernel can compare: path texts up to this long, comms up to the comm length.
inline constexpr size_t kFilterPathText = KS_FILTER_TEXT_LEN;
inline constexpr size_t kFilterCommText = KS_COMM_LEN - 1;
inline constexpr size_t kFilterMaxPerField = KS_FILTER_MAX_PER_FIELD;

// Whether the kernel can compare `m` in its max_text bytes: an exact text is compared with
// its NUL, so it has one byte less than a prefix.
inline bool fits_kernel_text(const StringMatch& m, size_t max_text) {
  return m.prefix ? m.text.size() <= max_text : m.text.size() < max_text;
}

// `m` made something the kernel can compare with at most `max_text` bytes per entry: a longer
// exact text becomes a prefix of max_text bytes (an exact path match compares its NUL too,
// so an exact entry keeps at most max_text - 1), an entry covered by a shorter prefix goes,
// and more than kFilterMaxPerField entries (or an empty prefix) make it unconstrained. Never
// narrower than `m`.
StringMatches bounded(StringMatches m, size_t max_text);

// A value passes the union if it passes either side (nullopt if either side is), bounded.
StringMatches unite(const StringMatches& a, const StringMatches& b, size_t max_text);

// The filter that lets through what either consumer can use: for a type only one wants, that
// one's condition; for a type both want, the union of both (no condition if either has none).
FieldFilters unite(const TypeMask& a_types, const FieldFilters& a, const TypeMask& b_types, const FieldFilters& b);

// Whether `value` passes `m` (what the kernel decides, for tests and user-space checks).
bool passes(const StringMatches& m, std::string_view value);

// "openat path=/etc/*,/root/ comm=sshd" per constrained type, "" when none: for log lines.
std::string describe_field_filters(const FieldFilters& f);

}  // namespace kata_sentry
