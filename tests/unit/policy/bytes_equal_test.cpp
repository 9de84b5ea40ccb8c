// bytes_equal: the inline comparison under =, startswith, endswith and list lookups. Every
// length through the word-sized paths, with a difference at each position.
#include "policy-engine/bytes_equal.h"

#include <gtest/gtest.h>

#include <string>

namespace kata_sentry::policy::test {
namespace {

TEST(BytesEqual, EveryLengthAndEveryDifferingByte) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'a');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    std::string b = a;
    EXPECT_TRUE(bytes_equal(a.data(), b.data(), n)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ 0x01);
      EXPECT_FALSE(bytes_equal(a.data(), c.data(), n)) << "length " << n << ", byte " << i;
    }
  }
}

TEST(BytesEqual, TextHelpersNearMisses) {
  EXPECT_TRUE(same_text("guest", "guest"));
  EXPECT_FALSE(same_text("guest", "guesT"));
  EXPECT_FALSE(same_text("guest", "guests"));
  EXPECT_TRUE(same_text("", ""));
  EXPECT_TRUE(starts_with_text("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/"));
  EXPECT_FALSE(starts_with_text("/proc/sys/kernel", "/proc/sys/kernel/"));  // one byte short
  EXPECT_FALSE(starts_with_text("/proc/sys/kernek/x", "/proc/sys/kernel/"));
  EXPECT_TRUE(starts_with_text("x", ""));
  EXPECT_TRUE(ends_with_text("/sys/fs/cgroup/x/release_agent", "/release_agent"));
  EXPECT_FALSE(ends_with_text("release_agent", "/release_agent"));
  EXPECT_FALSE(ends_with_text("/x/release_agenT", "/release_agent"));
}

}  // namespace
}  // namespace kata_sentry::policy::test
