// One sink's cursor over the audit log: a thread that reads the log from the sink's persisted
// cursor (cursor_file.h), filters, hands batches to the Sink, and advances the cursor over what
// the destination acknowledged (at-least-once: after a failure or a restart the unacknowledged
// records are sent again). Failures back off exponentially with jitter. It reads the log's files,
// never the monitor's memory, so a slow or dead destination costs only disk (bounded by
// retention) and never slows detection: the thread is SCHED_IDLE.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "exporters/audit_log.h"
#include "exporters/log_reader.h"
#include "exporters/sink.h"
#include "exporters/sink_filter.h"

namespace kata_sentry::exporters {

struct ExporterOptions {
  std::string name;                 // the cursor's file name: valid_sink_name()
  SinkFilter filter;
  size_t batch_records = 500;
  size_t max_unconfirmed = 100000;  // records sent but not yet confirmed before reading pauses
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds cursor_interval{1000};  // how often the cursor is persisted
};

class Exporter {
 public:
  // Starts the thread. `log` must outlive the exporter.
  static Result<std::unique_ptr<Exporter>> start(AuditLog& log, std::unique_ptr<Sink> sink, ExporterOptions options);
  ~Exporter();  // stop()
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Persists the cursor and ends the thread. Idempotent.
  void stop() noexcept;
  // Waits until everything durable in the log when called is acknowledged; false on timeout.
  bool wait_caught_up(std::chrono::milliseconds timeout) const;
  SinkStats stats() const;
  const std::string& name() const { return options_.name; }

 private:
  struct InFlight {
    uint64_t seq;
    uint64_t ack_upto;  // the record and the filtered records right after it
  };
  Exporter(AuditLog& log, std::unique_ptr<Sink> sink, ExporterOptions options, uint64_t cursor);
  void run() noexcept;
  Status confirm() noexcept;
  // Counts a failure, logs the first of a row, and sleeps the backoff; false when stopping.
  bool back_off(const std::string& why, std::mt19937& rng) noexcept;
  void rewind() noexcept;
  void set_acked(uint64_t seq) noexcept;
  void persist(bool force) noexcept;
  bool sleep_for(std::chrono::milliseconds d) noexcept;

  AuditLog& log_;
  const std::unique_ptr<Sink> sink_;
  const ExporterOptions options_;
  LogReader reader_;
  std::deque<InFlight> inflight_;   // accepted by the sink, not yet confirmed
  uint64_t accepted_total_ = 0;     // since the last reset
  uint64_t confirmed_total_ = 0;
  uint64_t persisted_ = 0;
  std::chrono::steady_clock::time_point persisted_at_{};
  unsigned failures_in_row_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  SinkStats stats_;
  uint64_t acked_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kata_sentry::exporters
