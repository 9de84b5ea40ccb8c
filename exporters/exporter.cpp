#include "exporters/exporter.h"

#include <pthread.h>
#include <sched.h>

#include <random>
#include <vector>

#include "core/logging.h"
#include "exporters/cursor_file.h"

namespace kata_sentry::exporters {

using namespace std::chrono_literals;

Result<std::unique_ptr<Exporter>> Exporter::start(AuditLog& log, std::unique_ptr<Sink> sink, ExporterOptions options) {
  if (!valid_sink_name(options.name))
    return fail(ErrorCode::invalid_argument, "sink name '" + options.name + "' must be 1-64 of [A-Za-z0-9_.-], not starting with '.'");
  auto cursor = read_cursor(log.dir(), options.name);
  if (!cursor) return std::unexpected(cursor.error());
  std::unique_ptr<Exporter> e(new Exporter(log, std::move(sink), std::move(options), *cursor));
  e->thread_ = std::thread([p = e.get()] { p->run(); });
  return e;
}

Exporter::Exporter(AuditLog& log, std::unique_ptr<Sink> sink, ExporterOptions options, uint64_t cursor)
    : log_(log), sink_(std::move(sink)), options_(std::move(options)), reader_(log.dir()), persisted_(cursor), acked_(cursor) {
  stats_.name = options_.name;
  stats_.destination = sink_->describe();
  stats_.acked_seq = cursor;
  reader_.seek(cursor + 1);
}

Exporter::~Exporter() { stop(); }

void Exporter::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Exporter::sleep_for(std::chrono::milliseconds d) noexcept {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void Exporter::set_acked(uint64_t seq) noexcept {
  std::lock_guard lock(mu_);
  if (seq > acked_) acked_ = seq;
  stats_.acked_seq = acked_;
  cv_.notify_all();
}

void Exporter::persist(bool force) noexcept {
  uint64_t acked;
  {
    std::lock_guard lock(mu_);
    acked = acked_;
  }
  auto now = std::chrono::steady_clock::now();
  if (acked == persisted_ || (!force && now - persisted_at_ < options_.cursor_interval)) return;
  if (auto st = write_cursor(log_.dir(), options_.name, acked); !st) {
    logger("export")->error("sink {}: {}", options_.name, st.error().describe());
    return;
  }
  persisted_ = acked;
  persisted_at_ = now;
}

Status Exporter::confirm() noexcept {
  auto confirmed = sink_->confirmed(accepted_total_);
  if (!confirmed) return std::unexpected(confirmed.error());
  uint64_t c = *confirmed;
  uint64_t newly = c > confirmed_total_ ? c - confirmed_total_ : 0;
  if (newly == 0) return {};
  confirmed_total_ = c;
  uint64_t upto = 0;
  for (uint64_t i = 0; i < newly && !inflight_.empty(); ++i) {
    upto = inflight_.front().ack_upto;
    inflight_.pop_front();
  }
  {
    std::lock_guard lock(mu_);
    stats_.delivered += newly;
  }
  set_acked(upto);
  return {};
}

bool Exporter::back_off(const std::string& why, std::mt19937& rng) noexcept {
  {
    std::lock_guard lock(mu_);
    ++stats_.failures;
    stats_.healthy = false;
    stats_.last_error = why;
  }
  if (failures_in_row_++ == 0) logger("export")->warn("sink {} ({}): {}; retrying with backoff", options_.name, sink_->describe(), why);
  persist(false);
  // Exponential backoff with jitter, so that many nodes do not retry in step.
  auto base = std::min<int64_t>(options_.backoff_max.count(), options_.backoff_min.count() << std::min(failures_in_row_, 16u));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return sleep_for(std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base) * jitter(rng))));
}

// Everything accepted but not confirmed is sent again.
void Exporter::rewind() noexcept {
  inflight_.clear();
  accepted_total_ = confirmed_total_ = 0;
  sink_->reset();
  uint64_t from;
  {
    std::lock_guard lock(mu_);
    from = acked_ + 1;
  }
  reader_.seek(from);
}

void Exporter::run() noexcept {
  auto log = logger("export");
  // Exporting must never slow detection: this thread runs only on CPU time nothing else wants
  // (SCHED_IDLE), and it takes no lock that an appender takes (it reads the log's files and
  // waits on AuditLog::wait_beyond's futex), so its low priority cannot stall an append either.
  // Under saturation the lag grows, bounded by the log's retention, not by RAM.
  sched_param idle{};
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0) log->debug("sink {}: SCHED_IDLE not available", options_.name);
  std::mt19937 rng(std::random_device{}());
  std::vector<ExportRecord> batch;
  std::vector<uint64_t> ack_upto;
  uint64_t skipped_seen = reader_.skipped();
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    batch.clear();
    ack_upto.clear();
    const uint64_t durable = log_.durable_seq();
    bool read_error = false;
    while (batch.size() < options_.batch_records && inflight_.size() + batch.size() < options_.max_unconfirmed) {
      auto rec = reader_.next(durable);
      if (!rec) {
        std::lock_guard lock(mu_);
        stats_.last_error = rec.error().describe();
        read_error = true;
        break;
      }
      if (!*rec) break;
      if (reader_.skipped() != skipped_seen) {
        log->warn("sink {}: {} record(s) were deleted by retention before they were exported", options_.name, reader_.skipped() - skipped_seen);
        std::lock_guard lock(mu_);
        stats_.skipped_retention += reader_.skipped() - skipped_seen;
        skipped_seen = reader_.skipped();
      }
      auto er = to_export_record(**rec);
      const uint64_t seq = (*rec)->seq;
      bool pass = er && options_.filter.pass(*er);
      if (pass) {
        batch.push_back(std::move(*er));
        ack_upto.push_back(seq);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        ++(er ? stats_.filtered : stats_.malformed);
      }
      if (!ack_upto.empty()) {
        ack_upto.back() = seq;
      } else if (!inflight_.empty()) {
        inflight_.back().ack_upto = seq;
      } else {
        set_acked(seq);
      }
    }
    if (read_error) {
      log->error("sink {}: reading the log: {}", options_.name, stats().last_error);
      if (!sleep_for(options_.backoff_max)) break;
      rewind();
      continue;
    }
    if (!batch.empty()) {
      auto n = sink_->deliver(batch);
      size_t accepted = n ? std::min(*n, batch.size()) : 0;
      for (size_t i = 0; i < accepted; ++i) inflight_.push_back({batch[i].seq, ack_upto[i]});
      accepted_total_ += accepted;
      auto confirmed = confirm();
      if (!n || !confirmed) {
        rewind();
        if (!back_off(!n ? n.error().describe() : confirmed.error().describe(), rng)) break;
        continue;
      }
      if (accepted < batch.size()) {
        reader_.seek(batch[accepted].seq);  // the rest again, after a pause
        if (!back_off("the destination acknowledged " + std::to_string(accepted) + " of " + std::to_string(batch.size()) + " record(s)", rng))
          break;
        continue;
      }
      if (failures_in_row_) log->info("sink {} ({}): delivering again", options_.name, sink_->describe());
      failures_in_row_ = 0;
      std::lock_guard lock(mu_);
      stats_.healthy = true;
    } else if (auto confirmed = confirm(); !confirmed) {
      rewind();
      if (!back_off(confirmed.error().describe(), rng)) break;
      continue;
    }
    persist(false);
    if (batch.size() < options_.batch_records) {
      // Caught up: wait for the log (or the sink's confirmations) to move.
      if (inflight_.size() >= options_.max_unconfirmed) {
        if (!sleep_for(50ms)) break;  // only confirmations can let reading go on
      } else if (!inflight_.empty()) {
        // Records sent but not yet confirmed (syslog over TCP confirms after confirm_ms): wake
        // for a new record at once, so that it does not wait for those confirmations, and
        // every 50 ms or so to collect them (a closed log returns at once: pause, not spin).
        if (log_.wait_beyond(durable, 50ms) == durable && !sleep_for(20ms)) break;
      } else if (log_.wait_beyond(durable, 200ms) == durable) {
        // Nothing new: a closed log returns at once, so pause rather than spin.
        if (!sleep_for(20ms)) break;
      }
    }
  }
  (void)confirm();
  persist(true);
}

bool Exporter::wait_caught_up(std::chrono::milliseconds timeout) const {
  const uint64_t target = log_.durable_seq();
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return acked_ >= target; });
}

SinkStats Exporter::stats() const {
  std::lock_guard lock(mu_);
  SinkStats s = stats_;
  uint64_t durable = log_.durable_seq();
  s.lag = durable > acked_ ? durable - acked_ : 0;
  return s;
}

}  // namespace kata_sentry::exporters
