// Equality of two byte ranges of the same length, inline. Checks compare a field with a
// literal of a few to a few dozen bytes, and most comparisons are of equal-length strings
// that differ (view = guest, fd.typechar = f, a path against a listed path): a call to
// memcmp for each cost more than the comparison. Up to 16 bytes this reads two overlapping
// words per side; longer ranges go to memcmp.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace kata_sentry::policy {

[[gnu::always_inline]] inline bool bytes_equal(const char* a, const char* b, size_t n) noexcept {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    uint64_t a0, b0, a1, b1;
    std::memcpy(&a0, a, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&a1, a + n - 8, 8);
    std::memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4) {
    uint32_t a0, b0, a1, b1;
    std::memcpy(&a0, a, 4);
    std::memcpy(&b0, b, 4);
    std::memcpy(&a1, a + n - 4, 4);
    std::memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

inline bool same_text(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && bytes_equal(a.data(), b.data(), a.size());
}
inline bool starts_with_text(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && bytes_equal(s.data(), prefix.data(), prefix.size());
}
inline bool ends_with_text(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && bytes_equal(s.data() + s.size() - suffix.size(), suffix.data(), suffix.size());
}

}  // namespace kata_sentry::policy
