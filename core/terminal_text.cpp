#include "core/terminal_text.h"

#include "core/utf8.h"

namespace kata_sentry {
namespace {

unsigned char byte_at(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

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
