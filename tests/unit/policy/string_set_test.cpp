// StringSet: the literal lists of `in` / `intersects`. Both layouts (scanned, hashed) must
// answer exactly as a std::set would, above all for values that nearly match an item.
#include "policy-engine/string_set.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace kata_sentry::policy::test {
namespace {

// Values one edit away from `s`: last byte changed, a byte added or removed, case flipped.
std::vector<std::string> near_misses(const std::string& s) {
  std::vector<std::string> out;
  if (!s.empty()) {
    std::string last = s;
    last.back() = static_cast<char>(last.back() ^ 1);
    out.push_back(last);
    std::string first = s;
    first.front() = static_cast<char>(first.front() ^ 0x20);
    out.push_back(first);
    out.push_back(s.substr(0, s.size() - 1));
    out.push_back(s.substr(1));
  }
  out.push_back(s + "x");
  out.push_back(s + '\0');
  out.push_back("/" + s);
  return out;
}

void expect_same_as_std_set(const std::vector<std::string>& items) {
  StringSet set(items);
  std::set<std::string> truth(items.begin(), items.end());
  EXPECT_EQ(set.size(), truth.size());
  for (const auto& s : items) {
    EXPECT_TRUE(set.contains(s)) << s;
    for (const auto& miss : near_misses(s))
      EXPECT_EQ(set.contains(miss), truth.count(miss) == 1) << "'" << s << "' vs '" << miss << "'";
  }
}

TEST(StringSet, EmptyListHoldsNothing) {
  StringSet set(std::vector<std::string>{});
  EXPECT_FALSE(set.contains(""));
  EXPECT_FALSE(set.contains("a"));
  EXPECT_FALSE(StringSet().contains(""));
}

TEST(StringSet, ShortListIsScannedExactly) {
  std::vector<std::string> items = {"/etc/shadow", "/etc/sudoers", "/etc/pam.conf", "sh", "bash"};
  ASSERT_LE(items.size(), StringSet::kScanLimit);
  expect_same_as_std_set(items);
  StringSet set(items);
  EXPECT_FALSE(set.contains("/etc/shadoW"));   // same length, last byte differs
  EXPECT_FALSE(set.contains("/etc/shado"));    // a prefix
  EXPECT_FALSE(set.contains("/etc/shadow/"));  // an extension
  EXPECT_FALSE(set.contains("BASH"));          // case matters
  EXPECT_FALSE(set.contains(""));
}

TEST(StringSet, LongListIsHashedExactly) {
  std::vector<std::string> items;
  for (int i = 0; i < 500; ++i) items.push_back("/usr/bin/tool" + std::to_string(i));
  items.push_back("sh");
  items.push_back("a");
  ASSERT_GT(items.size(), StringSet::kScanLimit);
  expect_same_as_std_set(items);
  StringSet set(items);
  EXPECT_TRUE(set.contains("/usr/bin/tool499"));
  EXPECT_FALSE(set.contains("/usr/bin/tool500"));  // same length and prefix as members
  EXPECT_FALSE(set.contains("/usr/bin/tool0x"));
  EXPECT_FALSE(set.contains("b"));
}

TEST(StringSet, DuplicatesAndTheEmptyStringAreItems) {
  std::vector<std::string> items = {"nginx", "nginx", ""};
  StringSet set(items);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(""));
  EXPECT_TRUE(set.contains("nginx"));
  EXPECT_FALSE(set.contains("nginx "));
  std::vector<std::string> many(20, "dup");
  many.push_back("");
  StringSet hashed(many);  // 21 entries before dropping duplicates: still exact
  EXPECT_EQ(hashed.size(), 2u);
  EXPECT_TRUE(hashed.contains(""));
  EXPECT_TRUE(hashed.contains("dup"));
  EXPECT_FALSE(hashed.contains("du"));
}

// Lengths of 63 and more share one bit of the length filter: the bytes still decide.
TEST(StringSet, LongValuesShareTheLengthBitButStillCompare) {
  std::string base(70, 'p');
  std::vector<std::string> scanned = {base, std::string(100, 'q')};
  std::vector<std::string> hashed = scanned;
  for (int i = 0; i < 20; ++i) hashed.push_back(std::string(63 + i, 'r'));
  for (const auto& items : {scanned, hashed}) {
    StringSet set(items);
    EXPECT_TRUE(set.contains(base));
    EXPECT_FALSE(set.contains(std::string(71, 'p')));
    EXPECT_FALSE(set.contains(std::string(63, 'p')));
    std::string changed = base;
    changed[40] = 'x';
    EXPECT_FALSE(set.contains(changed));
    expect_same_as_std_set(items);
  }
}

// The table trusts a hash match only after comparing the bytes; and distinct values of one
// length never share the full hash, whichever byte differs (each step is a bijection).
TEST(StringSet, HashChangesWithEveryByte) {
  std::string s = "/var/log/nginx/access.log";  // 25 bytes: three 8-byte words and a tail
  uint64_t h = string_set_hash(s);
  for (size_t i = 0; i < s.size(); ++i) {
    std::string t = s;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    EXPECT_NE(string_set_hash(t), h) << "byte " << i;
  }
  EXPECT_NE(string_set_hash(s + '\0'), h);  // a trailing NUL is not padding
  EXPECT_NE(string_set_hash(""), string_set_hash(std::string(1, '\0')));
}

}  // namespace
}  // namespace kata_sentry::policy::test
