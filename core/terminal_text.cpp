#include "core/terminal_text.h"

namespace kata_sentry {
namespace {

unsigned char byte_at(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Length of the well-formed UTF-8 sequence that starts `s` (Unicode table 3-7), or 0 when its
// first byte does not start one. The narrowed second-byte ranges after E0, ED, F0 and F4 are
// what rule out overlong forms, UTF-16 surrogates and code points above U+10FFFF.
size_t utf8_sequence_length(std::string_view s) {
  unsigned char lead = byte_at(s, 0);
  if (lead < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
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
  if (byte_at(s, 1) < lo || byte_at(s, 1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (byte_at(s, i) < 0x80 || byte_at(s, i) > 0xbf) return 0;
  return n;
}

void append_escaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = byte_at(text, i);
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = c < 0x80 ? 0 : utf8_sequence_length(text.substr(i));  // C0 and DEL: n = 0
    if (n == 0) {
      // Only the first byte: the next one may start a valid sequence of its own, and if it
      // is a stray continuation byte it is escaped on its own turn.
      append_escaped(out, c);
      ++i;
      continue;
    }
    bool c1_control = n == 2 && c == 0xc2 && byte_at(text, i + 1) < 0xa0;  // U+0080–U+009F
    for (size_t k = 0; k < n; ++k) {
      if (c1_control)
        append_escaped(out, byte_at(text, i + k));
      else
        out += text[i + k];
    }
    i += n;
  }
  return out;
}

}  // namespace kata_sentry
