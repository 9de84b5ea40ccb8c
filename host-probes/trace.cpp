#include "host-probes/trace.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "core/event_json.h"
#include "core/host_support.h"
#include "core/logging.h"
#include "host-probes/host_event_reader.h"

namespace kata_sentry::probes {
namespace {

Result<uint64_t> resolve_cgroup(const std::string& path) {
  std::error_code ec;
  // A relative path that is not found here is taken relative to the cgroup2 mount.
  if (path.front() != '/' && !std::filesystem::exists(path, ec)) {
    std::string mount = find_cgroup2_mount();
    if (!mount.empty()) return SyscallProbes::cgroup_id_of(mount + "/" + path);
  }
  return SyscallProbes::cgroup_id_of(path);
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
  HostEventReaderOptions ro;
  if (options.pid != 0) {
    if (kill(static_cast<pid_t>(options.pid), 0) != 0 && errno == ESRCH)
      return fail(ErrorCode::not_found, "trace --pid " + std::to_string(options.pid) + ": no such process");
    ro.probes.scope_enabled = true;
    ro.probes.watch_tgids.push_back(options.pid);
  }
  if (!options.cgroup.empty()) {
    auto id = resolve_cgroup(options.cgroup);
    if (!id) return std::unexpected(id.error());
    ro.probes.scope_enabled = true;
    ro.probes.watch_cgroups.push_back(*id);
  }
  auto reader = HostEventReader::open(ro);
  if (!reader) return std::unexpected(reader.error());
  if (options.pid != 0) {
    // Descendants that exist already; later ones are added in the kernel at fork.
    for (uint32_t pid : (*reader)->processes().descendants_of(options.pid))
      if (auto st = (*reader)->probes().watch_tgid(pid); !st) log->warn("trace: {}", st.error().describe());
  }

  TraceSummary summary;
  auto on_event = [&](Event&& event) {
    if (!options.comm.empty() && event.proc.name != options.comm) return;
    std::string line = options.json ? event_to_json_line(event) : event_to_text(event);
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
    auto n = (*reader)->poll(timeout_ms, on_event);
    if (!n) return std::unexpected(n.error());
    std::fflush(out);
  }
  // Whatever is still queued belongs to the traced interval.
  (void)(*reader)->poll(0, on_event);
  std::fflush(out);

  summary.received = (*reader)->stats().records;
  summary.decode_errors = (*reader)->stats().decode_errors;
  if (auto st = (*reader)->probes().stats()) {
    summary.ringbuf_drops = st->ringbuf_drops;
    summary.pending_drops = st->pending_drops;
  } else {
    log->warn("{}", st.error().describe());
  }
  summary.proc_evictions = (*reader)->processes().evictions();
  return summary;
}

}  // namespace kata_sentry::probes
