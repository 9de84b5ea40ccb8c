// The audit log on a real file system: chain, checkpoints, segments, recovery of a torn tail,
// tampering named by `verify`, retention, and the node key's file mode.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "exporters/audit_log.h"
#include "exporters/log_reader.h"
#include "exporters/verify.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

AuditConfig small_config(const TempDir& t) {
  AuditConfig c;
  c.dir = (t.path() / "log").string();
  c.key_file = (t.path() / "keys" / "node.key").string();
  c.fsync = FsyncMode::interval;
  c.fsync_interval_ms = 5;
  c.segment_bytes = 16 << 10;
  c.checkpoint_records = 100;
  c.min_free_bytes = 0;
  return c;
}

std::string payload(uint64_t n) { return R"({"rule":"r","priority":"Warning","n":)" + std::to_string(n) + "}"; }

std::vector<Record> read_all(const fs::path& dir) {
  LogReader r(dir);
  std::vector<Record> out;
  for (;;) {
    auto rec = r.next();
    EXPECT_TRUE(rec) << rec.error().describe();
    if (!rec || !*rec) return out;
    out.push_back(std::move(**rec));
  }
}

std::vector<std::pair<fs::path, uint64_t>> segments(const fs::path& dir) {
  std::vector<std::pair<fs::path, uint64_t>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    uint64_t first = 0;
    if (parse_segment_file_name(e.path().filename().string(), &first)) out.emplace_back(e.path(), first);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.second < b.second; });
  return out;
}

// The file offset of each record of a segment, by sequence.
std::map<uint64_t, uint64_t> offsets(const fs::path& seg) {
  std::ifstream in(seg, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  std::map<uint64_t, uint64_t> out;
  size_t off = kSegmentHeaderSize;
  while (off < data.size()) {
    auto f = parse_frame({reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off});
    if (f.state != FrameState::ok) break;
    out[decode_body(f.body)->seq] = off;
    off += f.size;
  }
  return out;
}

void write_n(AuditLog& log, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(log.append(RecordKind::alert, payload(i)));
}

TEST(AuditLog, ChainCheckpointsAndSegmentsVerify) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log) << log.error().describe();
    write_n(**log, 1000);
    (*log)->close();
    auto s = (*log)->stats();
    EXPECT_EQ(s.durable_seq, s.last_seq);
    EXPECT_GE(s.segments, 5u);  // 16 KiB segments
    EXPECT_GE(s.checkpoints, 10u);
  }
  auto recs = read_all(c.dir);
  ASSERT_GE(recs.size(), 1010u);
  uint64_t n = 0, checkpoints = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].seq, i + 1);
    if (i) {
      EXPECT_EQ(recs[i].prev_hash, sha256(encode_body(recs[i - 1])));
    }
    if (recs[i].kind == RecordKind::checkpoint) {
      ++checkpoints;
      auto cp = checkpoint_from_json(recs[i].payload);
      ASSERT_TRUE(cp);
      EXPECT_EQ(cp->covers_seq, recs[i].seq - 1);
      EXPECT_TRUE(cp->signature_valid());
    } else {
      EXPECT_EQ(nlohmann::json::parse(recs[i].payload)["n"], n++);
    }
  }
  EXPECT_EQ(n, 1000u);
  EXPECT_EQ(recs.back().kind, RecordKind::checkpoint) << "close() signs a final checkpoint";
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
  EXPECT_EQ(report.records, recs.size());
  EXPECT_EQ(report.checkpoints, checkpoints);
  EXPECT_EQ(report.last_checkpoint_covers, recs.size() - 1);
}

TEST(AuditLog, ReopenContinuesTheChain) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  for (int round = 0; round < 3; ++round) {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log) << log.error().describe();
    write_n(**log, 50);
  }
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
  EXPECT_EQ(report.records, 153u);  // 150 and a final checkpoint per run
}

TEST(AuditLog, FsyncAlwaysAcknowledgesEachAppend) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  c.fsync = FsyncMode::always;
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log) << log.error().describe();
  for (int i = 0; i < 20; ++i) {
    auto seq = (*log)->append(RecordKind::audit, payload(i));
    ASSERT_TRUE(seq);
    EXPECT_GE((*log)->durable_seq(), *seq);
  }
  EXPECT_GE((*log)->stats().syncs, 20u);
}

TEST(AuditLog, WaitDurableAndConcurrentAppendersShareSyncs) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  c.fsync = FsyncMode::always;
  c.segment_bytes = 1 << 20;
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) EXPECT_TRUE((*log)->append(RecordKind::alert, payload(i)));
    });
  for (auto& th : threads) th.join();
  auto s = (*log)->stats();
  EXPECT_EQ(s.durable_seq, s.last_seq);
  EXPECT_GE(s.appended, 800u);
  EXPECT_LE(s.syncs, s.appended);  // several waiters per fdatasync when they overlap
}

TEST(AuditLog, FlippedByteInASealedSegmentIsNamed) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log);
    write_n(**log, 400);
  }
  auto segs = segments(c.dir);
  ASSERT_GE(segs.size(), 3u);
  const auto& [seg, first] = segs[1];  // sealed: not the last
  auto offs = offsets(seg);
  ASSERT_GE(offs.size(), 10u);
  uint64_t victim = first + 5;
  uint64_t off = offs.at(victim);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(off + kFrameHeaderSize + kBodyHeaderSize + 3));
    char b = 0;
    f.read(&b, 1);
    b ^= 0x20;
    f.seekp(static_cast<std::streamoff>(off + kFrameHeaderSize + kBodyHeaderSize + 3));
    f.write(&b, 1);
  }
  auto report = verify_log(c.dir, std::nullopt);
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->file, seg.string());
  EXPECT_EQ(report.problem->offset, off);
  EXPECT_EQ(report.problem->seq, victim);
  EXPECT_NE(report.problem->what.find("CRC"), std::string::npos) << report.problem->what;
}

TEST(AuditLog, RewrittenRecordWithAFreshCrcIsNamedByTheChain) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log);
    write_n(**log, 300);
  }
  auto segs = segments(c.dir);
  const auto& [seg, first] = segs[1];
  uint64_t victim = first + 2;
  uint64_t off = offsets(seg).at(victim);
  // The attacker edits the record and recomputes its CRC: only the next record's link tells.
  std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), {});
  auto frame = parse_frame({reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off});
  auto rec = decode_body(frame.body);
  ASSERT_TRUE(rec);
  rec->payload[rec->payload.find("\"r\"") + 1] = 'X';
  std::string forged = encode_frame(encode_body(*rec));
  ASSERT_EQ(forged.size(), frame.size);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(forged.data(), static_cast<std::streamsize>(forged.size()));
  f.close();
  auto report = verify_log(c.dir, std::nullopt);
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->file, seg.string());
  EXPECT_EQ(report.problem->offset, off);
  EXPECT_EQ(report.problem->seq, victim);
  EXPECT_NE(report.problem->what.find("altered"), std::string::npos) << report.problem->what;
}

TEST(AuditLog, TruncatedTailIsReportedThenRecoveredOnOpen) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  c.segment_bytes = 1 << 20;
  uint64_t last = 0;
  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log);
    write_n(**log, 120);
    (*log)->close();
    last = (*log)->stats().last_seq;
  }
  auto seg = segments(c.dir).back().first;
  auto offs = offsets(seg);
  uint64_t cut_in = offs.at(last - 1) + 20;  // inside the second-to-last record
  fs::resize_file(seg, cut_in);
  auto report = verify_log(c.dir, std::nullopt);
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->file, seg.string());
  EXPECT_EQ(report.problem->offset, offs.at(last - 1));
  EXPECT_EQ(report.problem->seq, last - 1);
  EXPECT_NE(report.problem->what.find("truncated"), std::string::npos) << report.problem->what;

  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log) << log.error().describe();
    EXPECT_EQ((*log)->stats().torn_bytes_recovered, 20u);
    write_n(**log, 10);
  }
  EXPECT_TRUE(fs::exists(fs::path(c.dir) / "torn"));
  report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
  auto recs = read_all(c.dir);
  ASSERT_GE(recs.size(), last);
  // The recovery says what it did, as a record of the log itself.
  EXPECT_EQ(recs[last - 2].kind, RecordKind::audit);
  EXPECT_NE(recs[last - 2].payload.find("truncated"), std::string::npos) << recs[last - 2].payload;
}

TEST(AuditLog, CheckpointsMustVerifyWithTheTrustedKey) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  {
    auto log = AuditLog::open(c);
    ASSERT_TRUE(log);
    write_n(**log, 150);
  }
  auto other = NodeKey::load_or_create((t.path() / "other.key").string());
  ASSERT_TRUE(other);
  auto report = verify_log(c.dir, other->public_key());
  ASSERT_TRUE(report.problem);
  EXPECT_NE(report.problem->what.find("another key"), std::string::npos) << report.problem->what;
  EXPECT_EQ(report.problem->seq, 101u);  // the first checkpoint, after 100 records
}

TEST(AuditLog, KeyFileReadableByOthersIsRefused) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  ASSERT_TRUE(AuditLog::open(c));
  ::chmod(c.key_file.c_str(), 0644);
  auto log = AuditLog::open(c);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find("chmod 600"), std::string::npos) << log.error().message;
}

TEST(AuditLog, RetentionDeletesTheOldestSegmentsAndReadersCountTheGap) {
  TempDir t("ks-audit-");
  auto c = small_config(t);
  c.max_bytes = 64 << 10;  // four 16 KiB segments
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log);
  write_n(**log, 3000);
  ASSERT_TRUE((*log)->wait_durable((*log)->stats().last_seq));
  // Retention runs on the writer's idle ticks.
  for (int i = 0; i < 100 && (*log)->stats().retention_deleted_segments == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*log)->close();  // retention stops with the writer
  auto s = (*log)->stats();
  EXPECT_GT(s.retention_deleted_segments, 0u);
  EXPECT_GT(s.first_seq, 1u);
  LogReader r(c.dir);
  r.seek(1);
  auto first = r.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->seq, s.first_seq);
  EXPECT_EQ(r.skipped(), s.first_seq - 1);
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
  EXPECT_EQ(report.first_seq, (*log)->stats().first_seq);
}

}  // namespace
}  // namespace kata_sentry::exporters
