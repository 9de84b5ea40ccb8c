#include "core/guest_text.h"

namespace kata_sentry {

std::string sanitize_guest_text(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace kata_sentry
