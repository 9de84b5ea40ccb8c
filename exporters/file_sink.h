// JSON lines in a file, Falco's JSON (what falcosidekick, Vector or Filebeat tail), rotated by
// size: `path` -> `path.1` -> ... -> `path.<keep>`. A batch is acknowledged after its write and
// an fdatasync. Also the console form: one human-readable line per record on stderr.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/unique_fd.h"
#include "exporters/sink.h"

namespace kata_sentry::exporters {

struct FileSinkOptions {
  std::string path;
  uint64_t max_bytes = 0;  // rotate beyond this size (0: never)
  uint32_t keep = 5;       // rotated files kept
  uint32_t mode = 0600;    // records name the workloads' files and commands
};

class FileSink final : public Sink {
 public:
  // Opens (creates) the file now, so that a bad path fails at start.
  static Result<std::unique_ptr<FileSink>> open(FileSinkOptions options);
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  std::string describe() const override { return "file " + options_.path; }

 private:
  explicit FileSink(FileSinkOptions o) : options_(std::move(o)) {}
  Status reopen();
  Status rotate();

  FileSinkOptions options_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

// The text a person reads on a terminal: "kata-sentry: ALERT Warning [rule] guest sandbox=sb1: output",
// "kata-sentry: AUDIT deny [rule] sandbox=sb1: detail"; control bytes of guest strings escaped.
std::string console_line(const ExportRecord& record);

// console_line() of every record on stderr (`kata-sentry run` without --alerts).
class ConsoleSink final : public Sink {
 public:
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  std::string describe() const override { return "stderr"; }
};

}  // namespace kata_sentry::exporters
