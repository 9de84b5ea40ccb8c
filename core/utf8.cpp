#include "core/utf8.h"

namespace kata_sentry {

size_t utf8_sequence_length(std::string_view s) {
  if (s.empty()) return 0;
  auto byte_at = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char lead = byte_at(0);
  if (lead < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  // The narrowed second-byte ranges after E0, ED, F0 and F4 rule out overlong forms, UTF-16
  // surrogates and code points above U+10FFFF.
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead == 0xe0) lo = 0xa0;
    if (lead == 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead == 0xf0) lo = 0x90;
    if (lead == 0xf4) hi = 0x8f;
  } else {
    return 0;  // 0x80–0xc1 (a continuation byte, or the lead of an overlong form), 0xf5–0xff
  }
  if (s.size() < n) return 0;
  if (byte_at(1) < lo || byte_at(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (byte_at(i) < 0x80 || byte_at(i) > 0xbf) return 0;
  return n;
}

std::string utf8_or_replacement(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    size_t n = utf8_sequence_length(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      n = 1;
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

}  // namespace kata_sentry
