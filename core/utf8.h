// UTF-8 as the Unicode standard defines it (table 3-7), for text that came from somewhere else
// (a guest's file names, a file's contents quoted in an error): the one place that decides
// what is well-formed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kata_sentry {

// Length of the well-formed UTF-8 sequence that starts `s`, or 0 when its first byte does not
// start one (a lone continuation byte, an overlong form, a surrogate, a code point above
// U+10FFFF, a truncated sequence, 0xfe, 0xff).
size_t utf8_sequence_length(std::string_view s);

// `s` with each byte that does not start a well-formed sequence replaced by U+FFFD: for a
// proto3 `string` field, which a peer's Protobuf library refuses whole if it is not UTF-8.
std::string utf8_or_replacement(std::string_view s);

}  // namespace kata_sentry
