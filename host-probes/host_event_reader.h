// The one consumer of the syscall probe set on the host: poll the ring buffer, decode each
// record once, keep the process table current and enrich the event from it (exe path, args,
// parent and ancestors). `kata-sentry trace` and the monitors' probe hub
// (monitor/host_probe_hub.h) both read the host's events through it.
//
// Not thread-safe: one thread polls; the probes' scope may be changed from other threads
// (probes().watch_tgid() and friends only touch BPF maps).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/event.h"
#include "core/event_decode.h"
#include "core/result.h"
#include "syscall-probes/proc_table.h"
#include "syscall-probes/syscall_probes.h"

namespace kata_sentry::probes {

struct HostEventReaderOptions {
  SyscallProbesOptions probes;
  size_t process_capacity = ProcTable::kDefaultCapacity;
  bool seed_processes = true;  // load /proc at start, so processes that exist already are known
};

struct HostEventReaderStats {
  uint64_t records = 0;        // read from the ring buffer
  uint64_t decode_errors = 0;  // records that did not decode (dropped, counted)
};

class HostEventReader {
 public:
  // Loads and attaches the probes. Fails naming what could not load.
  static Result<std::unique_ptr<HostEventReader>> open(const HostEventReaderOptions& options);

  // Waits up to timeout_ms, then hands each decoded, enriched event to `on_event` (on this
  // thread). Returns the number of records read.
  Result<int> poll(int timeout_ms, const std::function<void(Event&&)>& on_event);

  SyscallProbes& probes() { return *probes_; }
  const ProcTable& processes() const { return processes_; }
  HostEventReaderStats stats() const { return stats_; }

 private:
  HostEventReader(std::unique_ptr<SyscallProbes> probes, size_t capacity);
  std::unique_ptr<SyscallProbes> probes_;
  ProcTable processes_;
  BootClock clock_;
  HostEventReaderStats stats_;
};

}  // namespace kata_sentry::probes
