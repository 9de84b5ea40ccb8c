#include "core/json_line_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kata_sentry {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  JsonLineWriter::append_string(out, s);
  return out;
}

TEST(JsonLineWriter, EscapesWhatRfc8259Requires) {
  EXPECT_EQ(as_json("plain /etc/hostname"), R"("plain /etc/hostname")");
  EXPECT_EQ(as_json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(as_json("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(as_json(std::string("\x01\x1b[31m\x7f", 7)), "\"\\u0001\\u001b[31m\x7f\"");
  EXPECT_EQ(as_json(std::string("nul\0byte", 8)), R"("nul\u0000byte")");
}

TEST(JsonLineWriter, KeepsUtf8AndReplacesEachBadByte) {
  EXPECT_EQ(as_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\"");
  // The file name of issue 10's repro: two bytes that start no sequence.
  EXPECT_EQ(as_json("/tmp/\xff\xfex"), "\"/tmp/\xEF\xBF\xBD\xEF\xBF\xBDx\"");
  // Truncated, overlong and surrogate forms.
  EXPECT_EQ(as_json("\xe2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(as_json("\xc0\xaf"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(as_json("\xed\xa0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonLineWriter, AnyBytesMakeAnObjectAStrictParserAccepts) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  std::string line;
  JsonLineWriter w(line);
  w.field("s", all);
  w.field("n", int64_t{-5});
  w.field("u", uint64_t{18446744073709551615ULL});
  w.field("b", true);
  w.field("v", std::vector<std::string>{"a", "\xff"});
  w.indexed_field("proc.aname", 2, std::string("sh"));
  w.finish();
  auto j = nlohmann::json::parse(line);  // throws on anything invalid, UTF-8 included
  EXPECT_EQ(j["s"].get<std::string>().substr(0, 6), std::string("\0\1\2\3\4\5", 6));
  EXPECT_EQ(j["n"], -5);
  EXPECT_EQ(j["u"], 18446744073709551615ULL);
  EXPECT_EQ(j["b"], true);
  EXPECT_EQ(j["v"][1], "\xEF\xBF\xBD");
  EXPECT_EQ(j["proc.aname[2]"], "sh");
}

}  // namespace
}  // namespace kata_sentry
