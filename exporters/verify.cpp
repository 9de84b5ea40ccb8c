#include "exporters/verify.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "exporters/cursor_file.h"

namespace kata_sentry::exporters {
namespace fs = std::filesystem;
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace

std::string describe(const VerifyProblem& p) {
  return p.file + " offset " + std::to_string(p.offset) + " seq " + std::to_string(p.seq) + ": " + p.what;
}

VerifyReport verify_log(const fs::path& dir, std::optional<PublicKey> trusted) {
  VerifyReport r;
  auto problem = [&](std::string file, uint64_t offset, uint64_t seq, std::string what) {
    r.problem = VerifyProblem{std::move(file), offset, seq, std::move(what)};
    return r;
  };
  if (!trusted) {
    auto k = read_public_key((dir / "node.pub").string());
    if (!k) return problem((dir / "node.pub").string(), 0, 0, "no trusted public key: " + k.error().describe() + " (pass --key FILE)");
    trusted = *k;
    r.notes.push_back("checkpoints checked against " + (dir / "node.pub").string() +
                      ", which is stored beside the log; pass --key with the key from outside the node for a stronger check");
  }
  r.key = hex(*trusted);

  std::vector<std::pair<uint64_t, fs::path>> segs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    uint64_t first = 0;
    if (parse_segment_file_name(e.path().filename().string(), &first)) segs.emplace_back(first, e.path());
  }
  if (ec) return problem(dir.string(), 0, 0, "cannot list the directory: " + ec.message());
  if (segs.empty()) return problem(dir.string(), 0, 0, "no segment files: not an audit log");
  std::sort(segs.begin(), segs.end());

  uint64_t expect = 0;
  Hash running{};
  LogId log_id{};
  std::string prev_file;
  uint64_t prev_offset = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string file = segs[i].second.string();
    std::ifstream in(segs[i].second, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    if (!in && !in.eof()) return problem(file, 0, expect, "cannot read the segment");
    auto header = decode_segment_header(bytes_of(data));
    if (!header) return problem(file, 0, expect ? expect : segs[i].first, header.error().message);
    if (header->first_seq != segs[i].first) return problem(file, 0, header->first_seq, "the header's first sequence does not match the file name");
    if (i == 0) {
      log_id = header->log_id;
      expect = header->first_seq;
      running = header->prev_hash;
      r.first_seq = expect;
      if (expect != 1)
        r.notes.push_back("the log starts at seq " + std::to_string(expect) +
                          ": older segments were deleted by retention (their chain ends in this segment's header)");
    } else {
      if (header->log_id != log_id) return problem(file, 0, header->first_seq, "segment of another log (log id differs)");
      if (header->first_seq != expect)
        return problem(file, 0, header->first_seq, "segment starts at seq " + std::to_string(header->first_seq) + " but seq " +
                                                       std::to_string(expect) + " was expected: records are missing");
      if (header->prev_hash != running)
        return problem(prev_file, prev_offset, expect - 1,
                       "record altered: its hash does not match the link in the header of " + segs[i].second.filename().string());
    }
    ++r.segments;
    size_t off = kSegmentHeaderSize;
    while (off < data.size()) {
      auto frame = parse_frame(bytes_of(data).subspan(off));
      if (frame.state == FrameState::incomplete) {
        std::string what = "truncated: the file ends inside a record (" + std::to_string(data.size() - off) +
                           " byte(s) after the last whole record, seq " + std::to_string(expect - 1) + ")";
        if (i + 1 == segs.size()) what += "; kata-sentryd moves such a torn tail aside when it opens the log";
        return problem(file, off, expect, what);
      }
      if (frame.state != FrameState::ok) return problem(file, off, expect, std::string(frame_state_text(frame.state)));
      auto rec = decode_body(frame.body);
      if (!rec) return problem(file, off, expect, rec.error().message);
      if (rec->seq != expect)
        return problem(file, off, rec->seq, "sequence " + std::to_string(rec->seq) + " where " + std::to_string(expect) + " was expected");
      if (rec->prev_hash != running) {
        if (prev_file.empty()) return problem(file, off, rec->seq, "the first record does not link to the segment header");
        return problem(prev_file, prev_offset, expect - 1,
                       "record altered: its hash does not match the link stored in the next record (seq " + std::to_string(expect) + ")");
      }
      if (rec->kind == RecordKind::checkpoint) {
        auto cp = checkpoint_from_json(rec->payload);
        if (!cp) return problem(file, off, rec->seq, cp.error().message);
        if (cp->log_id != log_id) return problem(file, off, rec->seq, "checkpoint of another log");
        if (cp->covers_seq != rec->seq - 1 || cp->head != running)
          return problem(file, off, rec->seq, "checkpoint does not match the chain (covers seq " + std::to_string(cp->covers_seq) + ")");
        if (cp->key != *trusted) return problem(file, off, rec->seq, "checkpoint signed with another key (" + hex(cp->key) + ")");
        if (!cp->signature_valid()) return problem(file, off, rec->seq, "checkpoint signature is not valid");
        ++r.checkpoints;
        r.last_checkpoint_covers = cp->covers_seq;
      }
      running = sha256(frame.body);
      prev_file = file;
      prev_offset = off;
      ++r.records;
      r.last_seq = expect;
      ++expect;
      off += frame.size;
    }
  }
  if (r.records && r.last_seq > r.last_checkpoint_covers + 1)
    r.notes.push_back(std::to_string(r.last_seq - r.last_checkpoint_covers) + " record(s) after seq " +
                      std::to_string(r.last_checkpoint_covers) + " are chained but not yet covered by a signed checkpoint");
  // A sink that acknowledged more than the log holds: the log's end was cut off.
  for (const auto& c : read_cursors(dir)) {
    if (c.acked > r.last_seq)
      return problem(c.path, 0, r.last_seq + 1,
                     "sink '" + c.sink + "' acknowledged records up to seq " + std::to_string(c.acked) + " but the log ends at seq " +
                         std::to_string(r.last_seq) + ": records were cut off the end of the log");
  }
  return r;
}

}  // namespace kata_sentry::exporters
