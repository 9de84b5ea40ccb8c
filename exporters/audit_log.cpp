#include "exporters/audit_log.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/event_json.h"
#include "core/logging.h"

namespace kata_sentry::exporters {
namespace fs = std::filesystem;
namespace {

using namespace std::chrono_literals;

Status write_all(int fd, const std::string& bytes, const std::string& what) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write " + what);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Status sync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("open directory " + dir.string());
  if (::fsync(fd.get()) != 0) return fail_errno("fsync directory " + dir.string());
  return {};
}

Result<std::string> read_whole(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + path.string());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read " + path.string());
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// A record the log writes about itself, in the audit records' JSON shape.
std::string log_audit_json(const std::string& hostname, uint64_t now_ns, bool ok, const std::string& detail) {
  nlohmann::ordered_json j;
  j["audit"] = true;
  j["time"] = format_rfc3339_ns(now_ns);
  j["hostname"] = hostname;
  j["component"] = "audit-log";
  j["ok"] = ok;
  j["detail"] = detail;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// An alert the log raises itself, in Falco's JSON shape (policy-engine/alert.h).
std::string log_alert_json(const std::string& hostname, uint64_t now_ns, const std::string& rule, const std::string& message,
                           nlohmann::ordered_json fields) {
  std::string stamp = format_rfc3339_ns(now_ns);
  std::string clock = stamp.size() > 20 ? stamp.substr(11, stamp.size() - 12) : stamp;
  nlohmann::ordered_json j;
  j["hostname"] = hostname;
  j["output"] = clock + ": Critical " + message;
  j["output_fields"] = std::move(fields);
  j["priority"] = "Critical";
  j["rule"] = rule;
  j["source"] = "kata-sentry";
  j["tags"] = nlohmann::ordered_json::array({"audit_log"});
  j["time"] = stamp;
  j["view"] = "host";
  j["action"] = "alert";
  j["enforced"] = false;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string local_hostname() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "";
}

uint64_t unix_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

AuditLog::AuditLog(AuditConfig config, AuditLogHooks hooks, NodeKey key)
    : config_(std::move(config)), hooks_(std::move(hooks)), key_(std::move(key)), dir_(config_.dir), hostname_(local_hostname()) {}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const AuditConfig& config, AuditLogHooks hooks) {
  std::error_code ec;
  fs::create_directories(config.dir, ec);
  if (ec) return fail(ErrorCode::io, "create audit log directory " + config.dir + ": " + ec.message());
  ::chmod(config.dir.c_str(), 0700);  // records name the workloads' files and commands
  fs::path key_dir = fs::path(config.key_file).parent_path();
  if (!key_dir.empty() && !fs::exists(key_dir)) {
    fs::create_directories(key_dir, ec);
    if (ec) return fail(ErrorCode::io, "create key directory " + key_dir.string() + ": " + ec.message());
    ::chmod(key_dir.c_str(), 0700);
  }
  // One writer per log: a second process appending to the same segments would fork the chain.
  UniqueFd lock_fd(::open((fs::path(config.dir) / "LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd) return fail_errno("open " + config.dir + "/LOCK");
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0)
    return fail(ErrorCode::unavailable, "audit log " + config.dir + " is in use by another process (its LOCK is held)", errno);
  auto key = NodeKey::load_or_create(config.key_file);
  if (!key) return std::unexpected(key.error());
  std::unique_ptr<AuditLog> log(new AuditLog(config, std::move(hooks), std::move(*key)));
  log->lock_ = std::move(lock_fd);

  // node.pub: the public key the checkpoints of this log must verify with.
  fs::path pub = log->dir_ / "node.pub";
  std::string want = hex(log->key_.public_key());
  if (auto have = read_whole(pub)) {
    std::string h = *have;
    while (!h.empty() && (h.back() == '\n' || h.back() == ' ')) h.pop_back();
    if (h != want)
      return fail(ErrorCode::invalid_argument, "audit log " + config.dir + " is signed with the key in " + pub.string() + " (" + h +
                                                   "), but " + config.key_file + " holds " + want +
                                                   ": restore that key, or move the old log away");
  } else {
    UniqueFd fd(::open(pub.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return fail_errno("create " + pub.string());
    if (auto st = write_all(fd.get(), want + "\n", pub.string()); !st) return std::unexpected(st.error());
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + pub.string());
  }
  if (auto st = log->recover(); !st) return std::unexpected(st.error());
  log->last_checkpoint_ns_ = unix_now_ns();
  log->writer_ = std::thread([l = log.get()] { l->writer_loop(); });
  return log;
}

AuditLog::~AuditLog() { close(); }

Status AuditLog::recover() {
  auto log = logger("export");
  std::vector<Segment> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    uint64_t first = 0;
    if (entry.is_regular_file() && parse_segment_file_name(entry.path().filename().string(), &first))
      found.push_back({first, entry.path(), static_cast<uint64_t>(entry.file_size())});
  }
  if (ec) return fail(ErrorCode::io, "list audit log " + dir_.string() + ": " + ec.message());
  std::sort(found.begin(), found.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });

  auto move_aside = [&](const fs::path& from, uint64_t offset, const std::string& bytes) -> Status {
    fs::path torn = dir_ / "torn";
    fs::create_directories(torn, ec);
    fs::path to = torn / (from.filename().string() + "." + std::to_string(offset) + "." + std::to_string(unix_now_ns()) + ".bin");
    UniqueFd fd(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("save torn tail to " + to.string());
    if (auto st = write_all(fd.get(), bytes, to.string()); !st) return st;
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + to.string());
    stats_.torn_bytes_recovered += bytes.size();
    return sync_dir(torn);
  };

  std::string recovered_note;
  while (!found.empty()) {
    Segment& last = found.back();
    auto data = read_whole(last.path);
    if (!data) return std::unexpected(data.error());
    auto header = decode_segment_header(bytes_of(*data));
    if (!header) {
      // Only a crash while the segment was being created leaves a short header: its creation is
      // synced before any record goes in. A whole header that is wrong is damage: stop.
      if (data->size() >= kSegmentHeaderSize)
        return fail(ErrorCode::protocol, "audit log: " + last.path.string() + ": " + header.error().message +
                                             " (run `kata-sentry audit verify " + dir_.string() + "`)");
      if (auto st = move_aside(last.path, 0, *data); !st) return st;
      fs::remove(last.path, ec);
      recovered_note += "removed " + last.path.filename().string() + ", a segment whose creation a crash interrupted (" +
                        std::to_string(data->size()) + " bytes kept in torn/); ";
      found.pop_back();
      continue;
    }
    log_id_ = header->log_id;
    uint64_t expect = header->first_seq;
    Hash running = header->prev_hash;
    size_t off = kSegmentHeaderSize;
    std::string why;
    while (off < data->size()) {
      auto frame = parse_frame(bytes_of(*data).subspan(off));
      if (frame.state != FrameState::ok) {
        why = std::string(frame_state_text(frame.state));
        break;
      }
      auto rec = decode_body(frame.body);
      if (!rec) {
        why = rec.error().message;
        break;
      }
      if (rec->seq != expect || rec->prev_hash != running) {
        why = "sequence or chain link out of order";
        break;
      }
      running = sha256(frame.body);
      ++expect;
      off += frame.size;
    }
    if (off < data->size()) {
      std::string tail = data->substr(off);
      if (auto st = move_aside(last.path, off, tail); !st) return st;
      UniqueFd fd(::open(last.path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(off)) != 0 || ::fsync(fd.get()) != 0)
        return fail_errno("truncate torn tail of " + last.path.string());
      recovered_note += "truncated " + last.path.filename().string() + " at offset " + std::to_string(off) + " after seq " +
                        std::to_string(expect - 1) + ": " + std::to_string(tail.size()) + " byte(s) of " + why +
                        " moved to torn/ (never acknowledged); ";
      last.bytes = off;
    }
    next_seq_ = expect;
    head_ = running;
    active_ = UniqueFd(::open(last.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!active_) return fail_errno("open " + last.path.string() + " for append");
    segment_accounted_ = last.bytes;
    break;
  }
  segments_ = std::move(found);
  if (segments_.empty()) {
    // A new log: its id tells its records from any other log's.
    auto id = new_record_id(unix_now_ns());
    std::memcpy(log_id_.data(), id.data(), log_id_.size());
    if (auto st = open_segment(1, Hash{}); !st) return st;
    next_seq_ = 1;
    segment_accounted_ = kSegmentHeaderSize;
  }
  durable_seq_ = next_seq_ - 1;
  stats_.durable_seq = stats_.last_seq = next_seq_ - 1;
  stats_.first_seq = segments_.front().first_seq;
  if (!recovered_note.empty()) {
    recovered_note.resize(recovered_note.size() - 2);
    log->warn("audit log {}: {}", dir_.string(), recovered_note);
    std::lock_guard lock(mu_);
    (void)append_locked(RecordKind::audit, log_audit_json(hostname_, unix_now_ns(), false, "audit log recovered: " + recovered_note),
                        unix_now_ns());
  }
  return {};
}

Status AuditLog::open_segment(uint64_t first_seq, const Hash& prev_hash) {
  fs::path path = dir_ / segment_file_name(first_seq);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("create audit segment " + path.string());
  SegmentHeader h;
  h.first_seq = first_seq;
  h.log_id = log_id_;
  h.prev_hash = prev_hash;
  if (auto st = write_all(fd.get(), encode_segment_header(h), path.string()); !st) return st;
  if (::fdatasync(fd.get()) != 0) return fail_errno("fdatasync " + path.string());
  // The directory entry too: a record in a segment that a crash unnames would be lost.
  if (auto st = sync_dir(dir_); !st) return st;
  {
    std::lock_guard lock(seg_mu_);
    segments_.push_back({first_seq, path, kSegmentHeaderSize});
  }
  active_ = std::move(fd);
  return {};
}

Result<uint64_t> AuditLog::append_locked(RecordKind kind, std::string json, uint64_t now_ns) {
  if (kBodyHeaderSize + json.size() > kMaxBodySize)
    return fail(ErrorCode::invalid_argument, "audit log: a record of " + std::to_string(kBodyHeaderSize + json.size()) +
                                                 " bytes exceeds the limit of " + std::to_string(kMaxBodySize));
  Record r;  // the header fields; the payload goes straight into the pending buffer
  r.kind = kind;
  r.seq = next_seq_++;
  r.host_time_ns = now_ns;
  r.id = new_record_id(now_ns);
  r.prev_hash = head_;
  const size_t size = frame_size(json.size());
  const bool new_segment = segment_accounted_ + size > config_.segment_bytes && segment_accounted_ > kSegmentHeaderSize;
  if (new_segment) {
    Chunk c;
    c.starts_segment = true;
    c.first_seq = r.seq;
    c.prev_hash = r.prev_hash;
    pending_.push_back(std::move(c));
    segment_accounted_ = kSegmentHeaderSize;
  } else if (pending_.empty()) {
    pending_.push_back(Chunk{});
    pending_.back().first_seq = r.seq;
  }
  Chunk& c = pending_.back();
  head_ = append_frame(c.bytes, r, json);
  c.last_seq = r.seq;
  segment_accounted_ += size;
  pending_bytes_ += size;
  ++stats_.appended;
  stats_.last_seq = r.seq;
  if (kind != RecordKind::checkpoint && ++since_checkpoint_ >= config_.checkpoint_records) checkpoint_locked(now_ns);
  return r.seq;
}

void AuditLog::checkpoint_locked(uint64_t now_ns) {
  Checkpoint c;
  c.covers_seq = next_seq_ - 1;
  c.head = head_;
  c.time_ns = now_ns;
  c.log_id = log_id_;
  c.sign_with(key_);
  since_checkpoint_ = 0;
  last_checkpoint_ns_ = now_ns;
  ++stats_.checkpoints;
  (void)append_locked(RecordKind::checkpoint, checkpoint_to_json(c, hostname_).dump(), now_ns);
}

Result<uint64_t> AuditLog::append(RecordKind kind, std::string json) noexcept {
  try {
    std::unique_lock lock(mu_);
    for (;;) {
      if (failed_) {
        ++stats_.refused;
        return fail(ErrorCode::io, "audit log failed: " + failed_->describe());
      }
      if (closing_) {
        ++stats_.refused;
        return fail(ErrorCode::unavailable, "audit log is closed");
      }
      if (disk_full_ && config_.disk_full == DiskFullPolicy::stop_sandboxes) {
        ++stats_.refused;
        return fail(ErrorCode::unavailable, "audit log: the disk is full (policy stop_sandboxes): record refused");
      }
      const bool wait_for_disk = disk_full_ && config_.disk_full == DiskFullPolicy::block;
      if (!wait_for_disk && pending_bytes_ < config_.max_pending_bytes) break;
      writer_cv_.notify_one();
      room_cv_.wait_for(lock, 200ms);
    }
    auto seq = append_locked(kind, std::move(json), unix_now_ns());
    if (!seq) return seq;
    if (config_.fsync == FsyncMode::always) {
      ++sync_waiters_;
      writer_cv_.notify_one();
      durable_cv_.wait(lock, [&] { return durable_seq_.load() >= *seq || failed_ || writer_done_; });
      --sync_waiters_;
      if (durable_seq_.load() < *seq)
        return fail(ErrorCode::io, "audit log: record " + std::to_string(*seq) + " not durable: " +
                                       (failed_ ? failed_->describe() : std::string("the log closed")));
    } else if (pending_bytes_ >= config_.max_pending_bytes / 2) {
      writer_cv_.notify_one();
    }
    return seq;
  } catch (...) {
    return fail(ErrorCode::internal, "audit log append: out of memory");
  }
}

Status AuditLog::wait_durable(uint64_t seq) noexcept {
  std::unique_lock lock(mu_);
  if (durable_seq_.load() >= seq) return {};
  ++sync_waiters_;
  writer_cv_.notify_one();
  durable_cv_.wait(lock, [&] { return durable_seq_.load() >= seq || failed_ || writer_done_; });
  --sync_waiters_;
  if (durable_seq_.load() >= seq) return {};
  return fail(ErrorCode::io, "audit log: record " + std::to_string(seq) + " not durable: " +
                                 (failed_ ? failed_->describe() : std::string("the log closed")));
}

// std::atomic<uint32_t> is a plain 32-bit word here, which is what a futex is.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free);

uint64_t AuditLog::wait_beyond(uint64_t after, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // The epoch first: a move of durable_seq_ after this load changes the epoch, and then
    // FUTEX_WAIT returns at once instead of sleeping through it.
    const uint32_t epoch = durable_epoch_.load(std::memory_order_acquire);
    const uint64_t durable = durable_seq_.load(std::memory_order_acquire);
    if (durable > after || writer_ended_.load(std::memory_order_acquire)) return durable;
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return durable;
    timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
    ::syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&durable_epoch_), FUTEX_WAIT_PRIVATE, epoch, &ts, nullptr, 0);
  }
}

void AuditLog::wake_readers() noexcept {
  durable_epoch_.fetch_add(1, std::memory_order_release);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&durable_epoch_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void AuditLog::fail_log(const std::string& why) {
  // Caller holds mu_.
  if (failed_) return;
  failed_ = Error{ErrorCode::io, 0, why};
  stats_.failed = true;
  stats_.failure = why;
  logger("export")->critical("audit log {} FAILED, it accepts no more records: {}", dir_.string(), why);
  durable_cv_.notify_all();
  room_cv_.notify_all();
}

uint64_t AuditLog::fs_free_bytes(uint64_t* total) const {
  struct statvfs st{};
  if (::statvfs(dir_.c_str(), &st) != 0) return UINT64_MAX;  // unknown: do not invent a full disk
  if (total) *total = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

void AuditLog::engage_disk_full(uint64_t free_bytes) {
  std::lock_guard lock(mu_);
  if (disk_full_) return;
  disk_full_ = true;
  stats_.disk_full = true;
  ++stats_.disk_full_events;
  std::string policy(policy_name(config_.disk_full));
  logger("export")->error("audit log {}: disk full ({} bytes free, reserve {}): policy {}", dir_.string(), free_bytes, config_.min_free_bytes,
                          policy);
  nlohmann::ordered_json fields;
  fields["audit.dir"] = dir_.string();
  fields["audit.free_bytes"] = free_bytes;
  fields["audit.min_free_bytes"] = config_.min_free_bytes;
  fields["audit.disk_full_policy"] = policy;
  uint64_t now = unix_now_ns();
  // Written into the reserve that min_free_bytes keeps for it.
  (void)append_locked(RecordKind::alert,
                      log_alert_json(hostname_, now, "Audit log disk full",
                                     "Audit log disk full (dir=" + dir_.string() + " free_bytes=" + std::to_string(free_bytes) +
                                         " policy=" + policy + ")",
                                     std::move(fields)),
                      now);
  if (config_.disk_full == DiskFullPolicy::stop_sandboxes && !stop_hook_called_ && hooks_.stop_sandboxes) {
    stop_hook_called_ = true;
    // Stopping a sandbox writes records of its own; the writer must not wait for that.
    stop_hook_thread_ = std::thread(hooks_.stop_sandboxes);
  }
}

bool AuditLog::delete_oldest_segment(bool for_disk_full) {
  Segment victim;
  {
    std::lock_guard lock(seg_mu_);
    if (segments_.size() <= 1) return false;  // never the active segment
    victim = segments_.front();
    segments_.erase(segments_.begin());
  }
  std::error_code ec;
  fs::remove(victim.path, ec);
  std::lock_guard lock(mu_);
  stats_.first_seq = segments_.front().first_seq;
  if (for_disk_full) {
    ++stats_.disk_full_deleted_segments;
  } else {
    ++stats_.retention_deleted_segments;
  }
  logger("export")->info("audit log {}: deleted {} ({}), records from {} on are kept", dir_.string(), victim.path.filename().string(),
                         for_disk_full ? "disk full, drop_oldest" : "retention", stats_.first_seq);
  return true;
}

Status AuditLog::ensure_space(uint64_t bytes) {
  for (;;) {
    uint64_t free = fs_free_bytes();
    bool engaged;
    {
      std::lock_guard lock(mu_);
      engaged = disk_full_;
    }
    // Hysteresis under drop_oldest: the state ends only with a segment's worth of room to
    // spare, so that one engagement (and one alert) covers a run of deletions.
    const uint64_t margin = engaged && config_.disk_full == DiskFullPolicy::drop_oldest ? config_.segment_bytes : 0;
    if (free >= bytes + config_.min_free_bytes + margin) {
      std::lock_guard lock(mu_);
      if (disk_full_) {
        disk_full_ = false;
        stats_.disk_full = false;
        stop_hook_called_ = false;
        logger("export")->warn("audit log {}: disk space available again ({} bytes free)", dir_.string(), free);
        (void)append_locked(RecordKind::audit,
                            log_audit_json(hostname_, unix_now_ns(), true,
                                           "audit log: disk space available again (" + std::to_string(free) + " bytes free); " +
                                               std::to_string(stats_.refused) + " record(s) refused so far"),
                            unix_now_ns());
        room_cv_.notify_all();
      }
      return {};
    }
    if (engaged && free >= bytes + config_.min_free_bytes) return {};  // within the margin: go on
    engage_disk_full(free);
    if (config_.disk_full == DiskFullPolicy::drop_oldest && delete_oldest_segment(true)) continue;
    if (free >= bytes) return {};  // what was accepted before the policy engaged goes into the reserve
    std::unique_lock lock(mu_);
    if (closing_) return fail(ErrorCode::unavailable, "audit log closed while the disk was full");
    writer_cv_.wait_for(lock, 200ms);
  }
}

Status AuditLog::write_chunks(std::vector<Chunk>& chunks) {
  for (auto& c : chunks) {
    if (c.starts_segment) {
      if (::fdatasync(active_.get()) != 0) return fail_errno("fdatasync " + segments_.back().path.string());
      if (auto st = ensure_space(kSegmentHeaderSize); !st) return st;
      if (auto st = open_segment(c.first_seq, c.prev_hash); !st) return st;
    }
    for (;;) {
      if (auto st = ensure_space(c.bytes.size()); !st) return st;
      off_t before = static_cast<off_t>(segments_.back().bytes);
      auto st = write_all(active_.get(), c.bytes, segments_.back().path.string());
      if (st) break;
      if (st.error().sys_errno != ENOSPC) return st;
      // Another writer took the space between the check and the write: take the partial
      // record back and let the disk-full policy decide.
      if (::ftruncate(active_.get(), before) != 0) return fail_errno("truncate after ENOSPC " + segments_.back().path.string());
      engage_disk_full(fs_free_bytes());
      std::unique_lock lock(mu_);
      if (closing_) return fail(ErrorCode::unavailable, "audit log closed while the disk was full");
      writer_cv_.wait_for(lock, 200ms);
    }
    {
      std::lock_guard lock(seg_mu_);
      segments_.back().bytes += c.bytes.size();
    }
    std::lock_guard lock(mu_);
    stats_.bytes_written += c.bytes.size();
  }
  if (::fdatasync(active_.get()) != 0) return fail_errno("fdatasync " + segments_.back().path.string());
  std::lock_guard lock(mu_);
  ++stats_.syncs;
  return {};
}

void AuditLog::apply_retention() {
  uint64_t total_fs = 0;
  (void)fs_free_bytes(&total_fs);
  for (;;) {
    uint64_t total = 0;
    fs::path oldest;
    {
      std::lock_guard lock(seg_mu_);
      if (segments_.size() <= 1) return;
      for (const auto& s : segments_) total += s.bytes;
      oldest = segments_[1].path;  // the oldest segment's records end where the next one starts
    }
    bool over = (config_.max_bytes && total > config_.max_bytes) ||
                (config_.max_disk_percent > 0 && total_fs && static_cast<double>(total) > total_fs * config_.max_disk_percent / 100.0);
    if (!over && config_.max_age_seconds) {
      // The oldest segment's last record is no later than the next segment's creation.
      std::error_code ec;
      auto t = fs::last_write_time(oldest, ec);
      if (!ec) {
        auto age = fs::file_time_type::clock::now() - t;
        over = age > std::chrono::seconds(config_.max_age_seconds);
      }
    }
    if (!over || !delete_oldest_segment(false)) return;
  }
}

void AuditLog::writer_loop() noexcept {
  std::unique_lock lock(mu_);
  const auto interval = std::chrono::milliseconds(config_.fsync_interval_ms);
  auto next_sync = std::chrono::steady_clock::now() + interval;
  for (;;) {
    auto ready = [&] {
      return closing_ || (!pending_.empty() && (config_.fsync == FsyncMode::always || sync_waiters_ > 0 ||
                                                pending_bytes_ >= config_.max_pending_bytes / 2));
    };
    if (disk_full_) {
      writer_cv_.wait_for(lock, 200ms, ready);
    } else if (config_.fsync == FsyncMode::interval) {
      writer_cv_.wait_until(lock, next_sync, ready);
    } else {
      writer_cv_.wait_for(lock, 1s, ready);
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_sync) next_sync = now + interval;
    uint64_t now_ns = unix_now_ns();
    if (!failed_ && since_checkpoint_ > 0 &&
        (closing_ || now_ns - last_checkpoint_ns_ >= config_.checkpoint_seconds * 1'000'000'000ull))
      checkpoint_locked(now_ns);
    if (failed_) break;
    if (pending_.empty()) {
      if (closing_) break;
      if (disk_full_) {
        lock.unlock();
        (void)ensure_space(0);  // clears the state when space is back
        lock.lock();
      }
      if (now - last_retention_ >= 1s) {
        last_retention_ = now;
        lock.unlock();
        apply_retention();
        lock.lock();
      }
      continue;
    }
    std::vector<Chunk> chunks;
    chunks.swap(pending_);
    pending_bytes_ = 0;
    const uint64_t last = chunks.back().last_seq;
    room_cv_.notify_all();
    lock.unlock();
    Status st = write_chunks(chunks);
    lock.lock();
    if (!st) {
      fail_log(st.error().describe());
      break;
    }
    durable_seq_.store(last, std::memory_order_release);
    stats_.durable_seq = last;
    durable_cv_.notify_all();
    wake_readers();
  }
  writer_done_ = true;
  writer_ended_.store(true, std::memory_order_release);
  wake_readers();
  durable_cv_.notify_all();
  room_cv_.notify_all();
}

void AuditLog::close() noexcept {
  {
    std::lock_guard lock(mu_);
    if (closing_ && writer_done_) return;
    closing_ = true;
  }
  writer_cv_.notify_all();
  room_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (stop_hook_thread_.joinable()) stop_hook_thread_.join();
  std::lock_guard lock(mu_);
  durable_cv_.notify_all();
}

AuditLogStats AuditLog::stats() const {
  AuditLogStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  std::lock_guard lock(seg_mu_);
  s.segments = segments_.size();
  s.durable_seq = durable_seq_.load();
  return s;
}

}  // namespace kata_sentry::exporters
