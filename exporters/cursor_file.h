// Where each sink keeps the last sequence its destination acknowledged: `<log dir>/cursors/
// <sink name>`, one line "acked <seq>". Replaced atomically (write, fdatasync, rename), so a crash
// leaves the old or the new value, never a torn one; an old value only means records are sent
// again (at-least-once).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"

namespace kata_sentry::exporters {

struct CursorFile {
  std::string sink;
  std::string path;
  uint64_t acked = 0;
};

// 0 when the sink has no cursor yet. Fails naming a file that is there but not a cursor.
Result<uint64_t> read_cursor(const std::filesystem::path& log_dir, const std::string& sink);
Status write_cursor(const std::filesystem::path& log_dir, const std::string& sink, uint64_t acked);
// Every cursor beside the log (for `audit verify`); unreadable ones are left out.
std::vector<CursorFile> read_cursors(const std::filesystem::path& log_dir);
// Sink names become file names: [A-Za-z0-9_.-], 1-64 characters, not starting with a dot.
bool valid_sink_name(const std::string& name);

}  // namespace kata_sentry::exporters
