// Reads a whole small file with open(2)/read(2). For /proc and cgroup files: a process can exit
// between open and read (read then fails with ESRCH), and libstdc++'s filebuf turns such a read
// error into an exception that escapes istreambuf_iterator and getline, which in a noexcept
// event loop terminates the daemon. This never throws.
#pragma once

#include <optional>
#include <string>

namespace kata_sentry {

// nullopt when the file cannot be opened or read; at most `max_bytes` are returned.
std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace kata_sentry
