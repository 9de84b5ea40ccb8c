// A small tmpfs fills up under the audit log: each disk-full policy applies, an alert record
// says so, the counter goes up, nothing crashes, and the log still verifies.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cstring>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "exporters/audit_log.h"
#include "exporters/log_reader.h"
#include "exporters/verify.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::exporters {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A 2 MiB tmpfs of its own, unmounted (lazily) at the end even when the test failed.
class SmallTmpfs {
 public:
  SmallTmpfs() : dir_("ks-audit-tmpfs-") {
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") == 0;
    errno_ = errno;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  int error() const { return errno_; }
  fs::path path() const { return dir_.path(); }

 private:
  test_support::TempDir dir_;
  bool mounted_ = false;
  int errno_ = 0;
};

AuditConfig tmpfs_config(const SmallTmpfs& t, DiskFullPolicy policy) {
  AuditConfig c;
  c.dir = (t.path() / "log").string();
  c.key_file = (t.path() / "node.key").string();
  c.fsync_interval_ms = 5;
  c.segment_bytes = 64 << 10;
  c.checkpoint_records = 500;
  c.max_bytes = 0;
  c.max_disk_percent = 0;
  c.max_age_seconds = 0;
  c.min_free_bytes = 256 << 10;
  c.max_pending_bytes = 64 << 10;
  c.disk_full = policy;
  return c;
}

// Takes all but `leave` bytes of the file system.
fs::path fill(const fs::path& dir, uint64_t leave) {
  struct statvfs st{};
  ::statvfs(dir.c_str(), &st);
  uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  fs::path p = dir / "filler";
  std::ofstream(p) << std::string(free > leave ? free - leave : 0, 'x');
  return p;
}

std::string record(uint64_t n) {
  return R"({"rule":"r","priority":"Warning","output":")" + std::string(150, 'a') + R"(","n":)" + std::to_string(n) + "}";
}

struct Found {
  uint64_t disk_full_alerts = 0;
  uint64_t space_back = 0;
  uint64_t records = 0;
};
Found scan(const fs::path& dir) {
  Found f;
  LogReader r(dir);
  for (;;) {
    auto rec = r.next();
    if (!rec || !*rec) break;
    ++f.records;
    if ((*rec)->kind == RecordKind::alert && (*rec)->payload.find("\"Audit log disk full\"") != std::string::npos) ++f.disk_full_alerts;
    if ((*rec)->payload.find("disk space available again") != std::string::npos) ++f.space_back;
  }
  return f;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

#define NEED_TMPFS(t) \
  if (!(t).mounted()) GTEST_SKIP() << "mounting a 2 MiB tmpfs needs CAP_SYS_ADMIN: " << std::strerror((t).error())

TEST(AuditDiskFull, BlockWaitsUntilSpaceReturns) {
  SmallTmpfs t;
  NEED_TMPFS(t);
  auto c = tmpfs_config(t, DiskFullPolicy::block);
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log) << log.error().describe();
  fs::path filler = fill(t.path(), 600 << 10);
  std::atomic<uint64_t> done{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 5000; ++i) {  // ~1 MiB: more than fits
      ASSERT_TRUE((*log)->append(RecordKind::alert, record(i)));
      ++done;
    }
  });
  ASSERT_TRUE(eventually([&] { return (*log)->stats().disk_full; })) << "the policy never engaged";
  EXPECT_LT(done.load(), 5000u) << "appends went on while the disk was full";
  fs::remove(filler);
  writer.join();
  EXPECT_EQ(done.load(), 5000u);
  ASSERT_TRUE((*log)->wait_durable((*log)->stats().last_seq));
  auto s = (*log)->stats();
  EXPECT_GE(s.disk_full_events, 1u);
  EXPECT_EQ(s.refused, 0u);
  EXPECT_FALSE(s.failed) << s.failure;
  (*log)->close();
  auto f = scan(c.dir);
  EXPECT_GE(f.disk_full_alerts, 1u);
  EXPECT_GE(f.space_back, 1u);
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
}

TEST(AuditDiskFull, DropOldestMakesRoom) {
  SmallTmpfs t;
  NEED_TMPFS(t);
  auto c = tmpfs_config(t, DiskFullPolicy::drop_oldest);
  auto log = AuditLog::open(c);
  ASSERT_TRUE(log) << log.error().describe();
  // Until the policy has deleted a segment (~2 MiB), then a little more: not so much that the
  // segment holding the alert is deleted in turn (a sink would have exported it by then).
  uint64_t i = 0;
  for (; i < 20000 && (*log)->stats().disk_full_deleted_segments == 0; ++i) {
    ASSERT_TRUE((*log)->append(RecordKind::alert, record(i))) << i;
    if (i % 100 == 0) {
      ASSERT_TRUE((*log)->wait_durable((*log)->stats().last_seq));
    }
  }
  for (uint64_t k = 0; k < 200; ++k) ASSERT_TRUE((*log)->append(RecordKind::alert, record(i + k)));
  ASSERT_TRUE((*log)->wait_durable((*log)->stats().last_seq));
  auto s = (*log)->stats();
  EXPECT_GE(s.disk_full_events, 1u);
  EXPECT_GT(s.disk_full_deleted_segments, 0u);
  EXPECT_GT(s.first_seq, 1u);
  EXPECT_FALSE(s.failed) << s.failure;
  (*log)->close();
  EXPECT_GE(scan(c.dir).disk_full_alerts, 1u);
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
}

TEST(AuditDiskFull, StopSandboxesRefusesRecordsUntilSpaceReturns) {
  SmallTmpfs t;
  NEED_TMPFS(t);
  auto c = tmpfs_config(t, DiskFullPolicy::stop_sandboxes);
  std::atomic<int> stopped{0};
  auto log = AuditLog::open(c, AuditLogHooks{[&] { ++stopped; }});
  ASSERT_TRUE(log) << log.error().describe();
  fs::path filler = fill(t.path(), 600 << 10);
  uint64_t accepted = 0;
  bool refused = false;
  for (uint64_t i = 0; i < 20000 && !refused; ++i) {
    if ((*log)->append(RecordKind::alert, record(i))) {
      ++accepted;
    } else {
      refused = true;
    }
  }
  ASSERT_TRUE(refused) << "the log accepted 4 MiB on a full 2 MiB tmpfs";
  ASSERT_TRUE(eventually([&] { return stopped.load() == 1; })) << "stop_sandboxes hook not called";
  EXPECT_GE((*log)->stats().refused, 1u);
  fs::remove(filler);
  ASSERT_TRUE(eventually([&] { return !(*log)->stats().disk_full; }));
  ASSERT_TRUE((*log)->append(RecordKind::alert, record(99999)));
  auto s = (*log)->stats();
  EXPECT_EQ(s.disk_full_events, 1u);
  EXPECT_FALSE(s.failed) << s.failure;
  (*log)->close();
  EXPECT_EQ(scan(c.dir).disk_full_alerts, 1u);
  auto report = verify_log(c.dir, std::nullopt);
  EXPECT_FALSE(report.problem) << describe(*report.problem);
}

}  // namespace
}  // namespace kata_sentry::exporters
