#include "host-probes/trace.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "core/event_decode.h"
#include "core/event_json.h"
#include "core/host_support.h"
#include "core/logging.h"
#include "host-probes/host_probes.h"
#include "host-probes/proc_table.h"

namespace kata_sentry::probes {
namespace {

Result<uint64_t> resolve_cgroup(const std::string& path) {
  std::error_code ec;
  // A relative path that is not found here is taken relative to the cgroup2 mount.
  if (path.front() != '/' && !std::filesystem::exists(path, ec)) {
    std::string mount = find_cgroup2_mount();
    if (!mount.empty()) return HostProbes::cgroup_id_of(mount + "/" + path);
  }
  return HostProbes::cgroup_id_of(path);
}

}  // namespace

std::string format_summary(const TraceSummary& s) {
  return "events: " + std::to_string(s.printed) + " printed, " + std::to_string(s.received) +
         " received; drops: " + std::to_string(s.ringbuf_drops + s.pending_drops) + " (ring buffer " +
         std::to_string(s.ringbuf_drops) + ", pairing table " + std::to_string(s.pending_drops) +
         "); decode errors: " + std::to_string(s.decode_errors) +
         "; process table evictions: " + std::to_string(s.proc_evictions);
}

Result<TraceSummary> run_trace(const TraceOptions& options, std::FILE* out, const std::atomic<bool>& stop) {
  auto log = logger("probes");
  ProcTable table;
  size_t seeded = table.seed();
  log->debug("process table seeded with {} processes", seeded);

  HostProbesOptions po;
  if (options.pid != 0) {
    if (kill(static_cast<pid_t>(options.pid), 0) != 0 && errno == ESRCH)
      return fail(ErrorCode::not_found, "trace --pid " + std::to_string(options.pid) + ": no such process");
    po.scope_enabled = true;
    po.watch_tgids.push_back(options.pid);
    // Descendants that exist already; later ones are added in the kernel at fork.
    for (uint32_t pid : table.descendants_of(options.pid)) po.watch_tgids.push_back(pid);
  }
  if (!options.cgroup.empty()) {
    auto id = resolve_cgroup(options.cgroup);
    if (!id) return std::unexpected(id.error());
    po.scope_enabled = true;
    po.watch_cgroups.push_back(*id);
  }

  auto probes = HostProbes::open(po);
  if (!probes) return std::unexpected(probes.error());

  BootClock clock;
  TraceSummary summary;
  auto on_record = [&](std::span<const uint8_t> record) {
    ++summary.received;
    auto event = decode_event(record, View::host, clock);
    if (!event) {
      ++summary.decode_errors;
      return;
    }
    table.enrich(*event);
    table.update(*event);
    if (!options.comm.empty() && event->proc.name != options.comm) return;
    std::string line = options.json ? event_to_json_line(*event) : event_to_text(*event);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
    ++summary.printed;
  };

  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(options.duration_s));
  while (!stop.load(std::memory_order_relaxed)) {
    int timeout_ms = 100;  // also the latency bound for records below the wakeup threshold
    if (options.duration_s > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      timeout_ms = static_cast<int>(std::min<long long>(left, timeout_ms));
    }
    auto n = (*probes)->poll(timeout_ms, on_record);
    if (!n) return std::unexpected(n.error());
    std::fflush(out);
  }
  // Whatever is still queued belongs to the traced interval.
  (void)(*probes)->poll(0, on_record);
  std::fflush(out);

  if (auto st = (*probes)->stats()) {
    summary.ringbuf_drops = st->ringbuf_drops;
    summary.pending_drops = st->pending_drops;
  } else {
    log->warn("{}", st.error().describe());
  }
  summary.proc_evictions = table.evictions();
  return summary;
}

}  // namespace kata_sentry::probes
