// The durable, tamper-evident audit log: every alert and audit record (and every event, when
// configured) of this node, appended to segment files (log_format.h) in one order, each record
// chained to the one before it by SHA-256, with Ed25519-signed checkpoints every N records or T
// seconds.
//
// Durability. A record is *acknowledged* (durable_seq() reaches it, wait_durable() returns, and
// readers such as the exporters see it) only after the fdatasync that covers it. One thread
// writes and syncs: appenders hand their frames over under a lock, so callers that wait at the
// same time share one fdatasync (group commit). `fsync: always` makes every append wait;
// `interval:<ms>` syncs at that interval, or at once when someone waits. A new segment and the
// directory entry naming it are synced before any record goes into it. A failed write or
// fdatasync makes the log *failed* for good: nothing after it is acknowledged and every later
// append fails (after a failed fsync the kernel may have dropped the dirty pages, so a retry
// that succeeds would be a false success).
//
// Recovery. open() scans the last segment; a torn tail (an incomplete record or a CRC mismatch
// where a crash interrupted the write) is moved aside into `torn/` for inspection, the segment is
// truncated at the last whole record, and an audit record says so.
//
// Space. Retention deletes the oldest sealed segments beyond max_bytes, max_age_seconds and
// max_disk_percent. When free space drops below min_free_bytes the disk-full policy engages
// (audit_config.h): an alert record is written into the reserve, the counter goes up, and appends
// wait (block), make room (drop_oldest) or are refused after the sandboxes are stopped
// (stop_sandboxes), until space returns.
//
// Thread-safe. append() never throws.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"
#include "exporters/audit_config.h"
#include "exporters/log_format.h"
#include "exporters/node_key.h"

namespace kata_sentry::exporters {

struct AuditLogHooks {
  // Called (on a thread of its own) when the stop_sandboxes policy engages.
  std::function<void()> stop_sandboxes;
};

struct AuditLogStats {
  uint64_t appended = 0;            // records accepted (including checkpoints)
  uint64_t last_seq = 0;            // the last sequence handed out
  uint64_t durable_seq = 0;         // acknowledged up to here
  uint64_t first_seq = 0;           // the oldest record still kept (retention)
  uint64_t syncs = 0;               // fdatasync calls on segments
  uint64_t bytes_written = 0;
  uint64_t segments = 0;            // segment files now
  uint64_t checkpoints = 0;         // signed by this process
  uint64_t retention_deleted_segments = 0;
  uint64_t disk_full_events = 0;    // times the disk-full policy engaged
  uint64_t disk_full_deleted_segments = 0;  // by drop_oldest
  uint64_t refused = 0;             // appends refused: the log failed, or full under stop_sandboxes
  uint64_t torn_bytes_recovered = 0;  // moved aside at open
  bool disk_full = false;           // the policy is engaged now
  bool failed = false;              // a write or fdatasync failed: the log accepts nothing more
  std::string failure;              // why
};

class AuditLog {
 public:
  // Creates `config.dir` (mode 0700) and the key file when missing, recovers the last segment,
  // and starts the writer thread. Fails naming the directory, a segment or the key.
  static Result<std::unique_ptr<AuditLog>> open(const AuditConfig& config, AuditLogHooks hooks = {});
  ~AuditLog();  // close()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends a record with the payload `json` and returns its sequence. With `fsync: always` it
  // returns once the record is durable. Fails when the log failed, is closed, or refuses records
  // (stop_sandboxes while the disk is full); waits while the disk is full under `block`, or while
  // max_pending_bytes are not yet written.
  Result<uint64_t> append(RecordKind kind, std::string json) noexcept;
  // Waits until `seq` is durable (and asks for a sync now). Fails when the log failed before.
  Status wait_durable(uint64_t seq) noexcept;
  uint64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  // Waits until durable_seq() > `after`, `timeout` passes or the log closes; returns durable_seq().
  // For readers (the exporters, whose threads run at the lowest CPU priority): it waits on a
  // futex and takes no lock the appenders or the writer take, so a reader descheduled at the
  // wrong moment can never hold up an append (no priority inversion).
  uint64_t wait_beyond(uint64_t after, std::chrono::milliseconds timeout) const;

  // Signs a checkpoint of everything appended so far, then syncs and stops the writer. Appends
  // after this fail. Idempotent.
  void close() noexcept;

  AuditLogStats stats() const;
  const AuditConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  const LogId& log_id() const { return log_id_; }
  const PublicKey& public_key() const { return key_.public_key(); }

 private:
  struct Chunk {
    bool starts_segment = false;
    uint64_t first_seq = 0;
    Hash prev_hash{};
    uint64_t last_seq = 0;
    std::string bytes;
  };
  struct Segment {
    uint64_t first_seq = 0;
    std::filesystem::path path;
    uint64_t bytes = 0;
  };

  AuditLog(AuditConfig config, AuditLogHooks hooks, NodeKey key);
  Status recover();
  Result<uint64_t> append_locked(RecordKind kind, std::string json, uint64_t now_ns);
  void checkpoint_locked(uint64_t now_ns);
  void writer_loop() noexcept;
  Status write_chunks(std::vector<Chunk>& chunks);
  Status open_segment(uint64_t first_seq, const Hash& prev_hash);
  Status ensure_space(uint64_t bytes);
  void engage_disk_full(uint64_t free_bytes);
  bool delete_oldest_segment(bool for_disk_full);
  void apply_retention();
  void fail_log(const std::string& why);
  uint64_t fs_free_bytes(uint64_t* total = nullptr) const;

  const AuditConfig config_;
  const AuditLogHooks hooks_;
  const NodeKey key_;
  const std::filesystem::path dir_;
  const std::string hostname_;
  LogId log_id_{};
  UniqueFd lock_;  // flock on <dir>/LOCK for the log's lifetime

  // The append side (mu_).
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;   // work for the writer
  std::condition_variable room_cv_;     // pending room, or the disk no longer full
  mutable std::condition_variable durable_cv_;
  std::vector<Chunk> pending_;
  uint64_t pending_bytes_ = 0;
  uint64_t next_seq_ = 1;
  Hash head_{};                 // hash of the last record appended
  uint64_t segment_accounted_ = 0;  // bytes of the active segment, written or pending
  uint64_t since_checkpoint_ = 0;
  uint64_t last_checkpoint_ns_ = 0;
  int sync_waiters_ = 0;
  bool closing_ = false;
  bool writer_done_ = false;    // the writer thread ended: nothing more becomes durable
  bool disk_full_ = false;
  std::optional<Error> failed_;
  AuditLogStats stats_;

  // The writer side (the writer thread; segments_ also under seg_mu_ for stats()).
  mutable std::mutex seg_mu_;
  std::vector<Segment> segments_;  // oldest first; the last is active
  UniqueFd active_;
  std::chrono::steady_clock::time_point last_retention_{};
  bool stop_hook_called_ = false;
  std::thread stop_hook_thread_;

  std::atomic<uint64_t> durable_seq_{0};
  // Bumped (then a futex wake) each time durable_seq_ moves and when the writer ends: what
  // wait_beyond() sleeps on.
  std::atomic<uint32_t> durable_epoch_{0};
  std::atomic<bool> writer_ended_{false};
  void wake_readers() noexcept;
  std::thread writer_;
};

// The local host name (for records the log writes itself).
std::string local_hostname();
uint64_t unix_now_ns();

}  // namespace kata_sentry::exporters
