// Text that came from a guest, made safe to print in a log line or an error message.
#pragma once

#include <string>
#include <string_view>

namespace kata_sentry {

// At most max_bytes of `text` (then "..."), every byte outside printable ASCII as '?'.
std::string sanitize_guest_text(std::string_view text, size_t max_bytes = 512);

}  // namespace kata_sentry
