// `kata-sentry trace` as a library call: load the host probes with a scope, decode every
// record, enrich it from the process table, filter and print it. The CLI only parses flags.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/result.h"

namespace kata_sentry::probes {

struct TraceOptions {
  uint32_t pid = 0;         // 0 = no pid scope; else that process and its descendants
  std::string cgroup;       // "" = no cgroup scope; else a cgroup v2 directory
  std::string comm;         // "" = every proc.name
  double duration_s = 0;    // 0 = until `stop`
  bool json = true;         // false: event_to_text
};

struct TraceSummary {
  uint64_t printed = 0;
  uint64_t received = 0;
  uint64_t decode_errors = 0;
  uint64_t ringbuf_drops = 0;
  uint64_t pending_drops = 0;
  uint64_t proc_evictions = 0;
};

// Runs until the duration ends or `stop` becomes true. Events go to `out`, one per line.
// Fails when the probes cannot be loaded or the scope cannot be resolved.
Result<TraceSummary> run_trace(const TraceOptions& options, std::FILE* out, const std::atomic<bool>& stop);

// "events: 12 printed, 40 received; drops: 0 (ring buffer 0, pairing 0); ..."
std::string format_summary(const TraceSummary& s);

}  // namespace kata_sentry::probes
