// read_small_file must never throw: a read error (a /proc file of a process that was reaped
// between open and read fails with ESRCH; a directory fails with EISDIR) is nullopt. libstdc++'s
// streams throw from filebuf::underflow on such errors, which terminated a noexcept loop once.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/read_file.h"

namespace kata_sentry {
namespace {

TEST(ReadSmallFile, ReadsAFileAndBoundsIt) {
  auto text = read_small_file("/proc/self/stat");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->rfind(std::to_string(::getpid()) + " (", 0), 0u) << *text;
  auto cut = read_small_file("/proc/self/stat", 3);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->size(), 3u);
}

TEST(ReadSmallFile, AReadErrorIsNulloptNotAnException) {
  EXPECT_FALSE(read_small_file("/no/such/file"));
  EXPECT_NO_THROW(EXPECT_FALSE(read_small_file("/")));  // open succeeds, read fails: EISDIR
  // What the streams do with the same error, so this test keeps meaning something.
  std::ifstream in("/");
  EXPECT_ANY_THROW(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

}  // namespace
}  // namespace kata_sentry
