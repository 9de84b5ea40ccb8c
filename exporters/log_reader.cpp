#include "exporters/log_reader.h"

#include <fcntl.h>

#include <algorithm>
#include <vector>

namespace kata_sentry::exporters {
namespace fs = std::filesystem;
namespace {

std::vector<std::pair<uint64_t, fs::path>> list_segments(const fs::path& dir) {
  std::vector<std::pair<uint64_t, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    uint64_t first = 0;
    if (parse_segment_file_name(e.path().filename().string(), &first)) out.emplace_back(first, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::span<const uint8_t> bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace

void LogReader::seek(uint64_t seq) {
  expect_ = seq == 0 ? 1 : seq;
  fd_.reset();
}

bool LogReader::open_for(uint64_t seq) {
  auto segs = list_segments(dir_);
  if (segs.empty()) return false;
  size_t pick = 0;
  for (size_t i = 0; i < segs.size(); ++i)
    if (segs[i].first <= seq) pick = i;
  if (segs[pick].first > seq) {  // retention deleted what this reader had not read yet
    skipped_ += segs[pick].first - seq;
    expect_ = segs[pick].first;
  }
  fd_ = UniqueFd(::open(segs[pick].second.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) return false;
  path_ = segs[pick].second;
  seg_first_ = segs[pick].first;
  file_off_ = kSegmentHeaderSize;
  buf_.clear();
  pos_ = 0;
  return true;
}

bool LogReader::read_more() {
  if (pos_ > (1u << 20)) {
    buf_.erase(0, pos_);
    file_off_ += pos_;
    pos_ = 0;
  }
  char tmp[1 << 16];
  ssize_t n = ::pread(fd_.get(), tmp, sizeof tmp, static_cast<off_t>(file_off_ + buf_.size()));
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

Result<std::optional<Record>> LogReader::next(uint64_t limit) {
  for (;;) {
    if (!fd_ && !open_for(expect_)) return std::optional<Record>{};
    auto frame = parse_frame(bytes_of(buf_).subspan(pos_));
    if (frame.state == FrameState::bad_crc || frame.state == FrameState::bad_length)
      return fail(ErrorCode::protocol, path_.string() + " offset " + std::to_string(file_off_ + pos_) + ": " +
                                           std::string(frame_state_text(frame.state)));
    if (frame.state == FrameState::incomplete) {
      if (read_more()) continue;
      // The end of this segment (for now): the next one exists once the writer moved on.
      if (expect_ != seg_first_ && fs::exists(dir_ / segment_file_name(expect_))) {
        fd_.reset();
        if (!open_for(expect_)) return std::optional<Record>{};
        continue;
      }
      // Retention may have removed the segment under the reader: re-open by sequence.
      if (!fs::exists(path_)) fd_.reset();
      return std::optional<Record>{};
    }
    auto rec = decode_body(frame.body);
    if (!rec) return fail(ErrorCode::protocol, path_.string() + " offset " + std::to_string(file_off_ + pos_) + ": " + rec.error().message);
    if (rec->seq < expect_) {  // seeking forward within the segment
      pos_ += frame.size;
      continue;
    }
    if (rec->seq > limit) return std::optional<Record>{};
    pos_ += frame.size;
    expect_ = rec->seq + 1;
    return std::optional<Record>(std::move(*rec));
  }
}

Result<uint64_t> LogReader::last_seq(const fs::path& dir) {
  auto segs = list_segments(dir);
  if (segs.empty()) return 0;
  LogReader r(dir);
  r.seek(segs.back().first);
  uint64_t last = segs.back().first - 1;
  for (;;) {
    auto rec = r.next();
    if (!rec) return std::unexpected(rec.error());
    if (!*rec) return last;
    last = (*rec)->seq;
  }
}

}  // namespace kata_sentry::exporters
