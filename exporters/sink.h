// The seam between the audit log and a destination. An Exporter (exporter.h) reads the log from
// the sink's persisted cursor, filters, and hands batches to its Sink; the Sink formats and sends
// them and says how many its destination acknowledged. A Sink is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"
#include "exporters/export_record.h"

namespace kata_sentry::exporters {

class Sink {
 public:
  virtual ~Sink() = default;
  // Sends `batch` (in sequence order). Returns how many records from the front the destination
  // acknowledged (all of them normally; fewer on a partial failure, and the rest is sent again
  // later), or an error when none was. Never throws.
  virtual Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept = 0;
  // For sinks whose destination confirms later than the send (syslog over TCP): how many of the
  // `accepted` records deliver() accepted since the last reset() are confirmed now; the exporter
  // advances its cursor only over confirmed records. An error (the connection broke) makes the
  // exporter send every unconfirmed record again. The default: everything accepted.
  virtual Result<uint64_t> confirmed(uint64_t accepted) noexcept { return accepted; }
  // After a failure: drops the connection and any unconfirmed state; the next deliver() starts
  // afresh.
  virtual void reset() noexcept {}
  // "syslog tcp 127.0.0.1:6514 cef": for logs and errors.
  virtual std::string describe() const = 0;
};

// Counters of one sink, for logs, `kata-sentryd` shutdown lines and metrics (issue 13).
struct SinkStats {
  std::string name;
  std::string destination;   // Sink::describe()
  uint64_t delivered = 0;    // records acknowledged by the destination (duplicates after a retry included)
  uint64_t filtered = 0;     // records this sink's filter left out
  uint64_t failures = 0;     // deliveries that failed (each followed by a backoff)
  uint64_t malformed = 0;    // records whose payload could not be read (skipped, counted)
  uint64_t skipped_retention = 0;  // records retention deleted before this sink read them
  uint64_t acked_seq = 0;    // the persisted cursor: everything up to here is delivered or filtered
  uint64_t lag = 0;          // the log's durable sequence minus acked_seq
  bool healthy = true;       // the last delivery succeeded
  std::string last_error;
};

}  // namespace kata_sentry::exporters
