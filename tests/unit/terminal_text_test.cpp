// terminal_safe: what a guest-chosen string may and may not put on the operator's terminal.
#include <gtest/gtest.h>

#include <string>

#include "core/event_json.h"
#include "core/terminal_text.h"
#include "tests/support/event_builder.h"

namespace kata_sentry {
namespace {

using testing::EventBuilder;

std::string bytes(std::initializer_list<unsigned char> b) { return std::string(b.begin(), b.end()); }

TEST(TerminalSafe, PrintableAsciiIsUnchanged) {
  EXPECT_EQ(terminal_safe("/usr/bin/ls -la ~/x (y) [z] {a} 'b' \"c\" 100%"),
            "/usr/bin/ls -la ~/x (y) [z] {a} 'b' \"c\" 100%");
  EXPECT_EQ(terminal_safe(""), "");
}

TEST(TerminalSafe, EscapeSequencesAreDisarmed) {
  EXPECT_EQ(terminal_safe("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");            // CSI: clear screen, home
  EXPECT_EQ(terminal_safe("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");      // OSC: window title, BEL
  EXPECT_EQ(terminal_safe("\x1b]8;;http://x\x1b\\"), "\\x1b]8;;http://x\\x1b\\\\");  // OSC 8 hyperlink, ST
  EXPECT_EQ(terminal_safe("ok\bX"), "ok\\x08X");                            // backspace
  EXPECT_EQ(terminal_safe(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(terminal_safe("\x7f"), "\\x7f");                                 // DEL
}

TEST(TerminalSafe, CrLfAndTabInAFileNameCannotForgeLines) {
  std::string out = terminal_safe("/tmp/a\r\nkata-sentry: ALERT Critical [fake]\tx");
  EXPECT_EQ(out, "/tmp/a\\x0d\\x0akata-sentry: ALERT Critical [fake]\\x09x");
  EXPECT_EQ(out.find_first_of("\r\n\t"), std::string::npos);
}

TEST(TerminalSafe, C1ControlsAreEscapedAsTheirUtf8Bytes) {
  EXPECT_EQ(terminal_safe("\xc2\x9b" "2J"), "\\xc2\\x9b2J");  // U+009B CSI
  EXPECT_EQ(terminal_safe("\xc2\x80\xc2\x9f"), "\\xc2\\x80\\xc2\\x9f");
  EXPECT_EQ(terminal_safe("\xc2\xa0"), "\xc2\xa0");  // U+00A0, the first code point after C1, is kept
}

TEST(TerminalSafe, BackslashIsDoubledSoEscapesAreUnambiguous) {
  // A file literally named `\x1b` must not read like one holding ESC.
  EXPECT_EQ(terminal_safe("\\x1b"), "\\\\x1b");
  EXPECT_NE(terminal_safe("\\x1b"), terminal_safe("\x1b"));
}

TEST(TerminalSafe, InvalidUtf8BytesAreEscapedOneByOne) {
  EXPECT_EQ(terminal_safe(bytes({'/', 't', 'm', 'p', '/', 0xff, 0xfe, 'x'})), "/tmp/\\xff\\xfex");
  EXPECT_EQ(terminal_safe(bytes({'a', 0x80, 'b'})), "a\\x80b");            // lone continuation byte
  EXPECT_EQ(terminal_safe(bytes({0xbf})), "\\xbf");
  EXPECT_EQ(terminal_safe(bytes({0xc0, 0xaf})), "\\xc0\\xaf");             // overlong '/'
  EXPECT_EQ(terminal_safe(bytes({0xe0, 0x80, 0xaf})), "\\xe0\\x80\\xaf");  // overlong '/', 3 bytes
  EXPECT_EQ(terminal_safe(bytes({0xf0, 0x80, 0x80, 0xaf})), "\\xf0\\x80\\x80\\xaf");
  EXPECT_EQ(terminal_safe(bytes({0xc1, 0x9b})), "\\xc1\\x9b");             // overlong C1 CSI
  EXPECT_EQ(terminal_safe(bytes({0xed, 0xa0, 0x80})), "\\xed\\xa0\\x80");  // UTF-16 surrogate D800
  EXPECT_EQ(terminal_safe(bytes({0xf4, 0x90, 0x80, 0x80})), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(terminal_safe(bytes({0xf5, 0x80, 0x80, 0x80})), "\\xf5\\x80\\x80\\x80");
}

TEST(TerminalSafe, TruncatedSequencesAreEscapedAndWhatFollowsIsKept) {
  EXPECT_EQ(terminal_safe(bytes({0xe2, 0x82})), "\\xe2\\x82");               // "€" cut at the end
  EXPECT_EQ(terminal_safe(bytes({0xe2, 0x82, 'A'})), "\\xe2\\x82A");         // cut by an ASCII byte
  EXPECT_EQ(terminal_safe(bytes({0xf0, 0x9f, 0x98})), "\\xf0\\x9f\\x98");    // an emoji cut short
  // A broken lead byte does not swallow the valid "é" that follows it.
  EXPECT_EQ(terminal_safe(bytes({0xe2, 0xc3, 0xa9})), "\\xe2\xc3\xa9");
  // Nor does it swallow an ESC hidden as its "continuation".
  EXPECT_EQ(terminal_safe(bytes({0xc3, 0x1b, '['})), "\\xc3\\x1b[");
}

TEST(TerminalSafe, ValidMultiByteUtf8IsKept) {
  for (std::string s : {"café", "日本語のファイル", "Ελληνικά", "€", "😀 ok", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf",
                        "\xed\x9f\xbf" /* U+D7FF, just below the surrogates */})
    EXPECT_EQ(terminal_safe(s), s);
  EXPECT_EQ(terminal_safe("café\x1b[31m"), "café\\x1b[31m");
}

TEST(TerminalSafe, EventTextLineForTraceIsSafe) {
  Event e = EventBuilder().open("/tmp/\x1b]0;pwned\x07\r\n" "café").name("ev\x1bil").guest().container("c\x9b" "1").build();
  std::string line = event_to_text(e);
  EXPECT_NE(line.find("/tmp/\\x1b]0;pwned\\x07\\x0d\\x0acafé"), std::string::npos) << line;
  EXPECT_NE(line.find("ev\\x1bil"), std::string::npos) << line;
  EXPECT_NE(line.find("container=c\\x9b1"), std::string::npos) << line;
  for (char c : line) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << line;
  // The JSON form keeps the guest's bytes (JSON escaping is its own business).
  EXPECT_NE(event_to_json_line(e).find("\\u001b]0;pwned\\u0007"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry
