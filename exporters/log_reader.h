// Reads an audit log's records in sequence order, across segments, while the log grows: the
// exporters' cursors and `kata-sentry audit show|tail` read through it. It never writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/unique_fd.h"
#include "exporters/log_format.h"

namespace kata_sentry::exporters {

class LogReader {
 public:
  explicit LogReader(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The next read returns the first record whose sequence is >= `seq`.
  void seek(uint64_t seq);
  // The next record whose sequence is <= `limit`, or nullopt when there is none yet (the caller
  // waits and calls again). Records that retention deleted before they were read are skipped
  // and counted (skipped()). Fails naming the segment and offset of a damaged record.
  Result<std::optional<Record>> next(uint64_t limit = UINT64_MAX);
  // The sequence the next record should have.
  uint64_t position() const { return expect_; }
  uint64_t skipped() const { return skipped_; }

  // The sequence of the last whole record in the log, 0 for an empty log (reads the last segment).
  static Result<uint64_t> last_seq(const std::filesystem::path& dir);

 private:
  bool open_for(uint64_t seq);
  bool read_more();

  std::filesystem::path dir_;
  std::filesystem::path path_;
  uint64_t seg_first_ = 0;  // the first sequence of the open segment
  UniqueFd fd_;
  uint64_t file_off_ = 0;  // the file offset of buf_[0]
  std::string buf_;
  size_t pos_ = 0;
  uint64_t expect_ = 1;
  uint64_t skipped_ = 0;
};

}  // namespace kata_sentry::exporters
