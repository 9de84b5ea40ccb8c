// Text for a person's terminal built from strings a guest chose (file names, comm, argv,
// container ids). Printed raw, such a string can drive the operator's terminal: ESC [ … moves
// the cursor or clears the line, OSC (ESC ] … BEL) retitles the window, CR or backspace
// overwrite what came before, LF forges a second line, and invalid UTF-8 garbles the rest.
//
// Every human-readable output path (alert and audit lines on stderr, `trace --format text`)
// passes its line through terminal_safe(). JSON output does not: JSON escaping already
// covers control characters there.
#pragma once

#include <string>
#include <string_view>

namespace kata_sentry {

// Returns `text` with every byte that could act on a terminal written as `\xNN` (two
// lowercase hex digits), and `\` written as `\\` so that an escape in the output is never
// ambiguous with the same characters in the input. Escaped are:
//   - C0 controls 0x00–0x1f (TAB, LF and CR included) and DEL 0x7f;
//   - C1 controls U+0080–U+009f, as the two bytes of their UTF-8 form (`\xc2\x9b` for CSI);
//   - every byte that is not part of a well-formed UTF-8 sequence (Unicode 15, table 3-7):
//     lone continuation bytes, overlong forms, surrogates, code points above U+10FFFF,
//     truncated sequences, 0xfe and 0xff.
// Everything else, printable ASCII and valid multi-byte UTF-8 ("café", "日本"), is kept as is.
// Never fails (it may throw std::bad_alloc like any string operation).
std::string terminal_safe(std::string_view text);

}  // namespace kata_sentry
