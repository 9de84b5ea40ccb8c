// Host probe overhead on a traced syscall (openat of /dev/null + close), in one run:
//   off              no probes loaded
//   scoped away      probes attached, scope on, this process not watched (one map lookup)
//   scoped in        this process watched: every openat builds, pairs and ships a record
// and the user-space cost of decoding a ring-buffer record into an Event.
#include <fcntl.h>
#include <linux/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "core/event_decode.h"
#include "core/event_json.h"
#include "syscall-probes/syscall_probes.h"
#include "kata_sentry/event_abi.h"
#include "bench/support/bench_figures.h"

namespace {

using Clock = std::chrono::steady_clock;
using kata_sentry::probes::SyscallProbes;
using kata_sentry::probes::SyscallProbesOptions;

constexpr int kIterations = 100000;
constexpr int kRounds = 5;

double ns_per_op_once() {
  auto t0 = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kIterations;
}

double median_ns_per_op() {
  std::vector<double> v;
  for (int r = 0; r < kRounds; ++r) v.push_back(ns_per_op_once());
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

ks_event sample_record() {
  ks_event r;
  std::memset(&r, 0, sizeof r);
  r.hdr.abi_version = KS_EVENT_ABI_VERSION;
  r.hdr.type = KS_EVT_EXECVE;
  r.hdr.flags = KS_F_HAS_RES;
  r.hdr.ts_ns = 123456789;
  r.proc = {4242, 4242, 1, 0, 0, UINT32_MAX, 1, 4026531836u, 4026531832u, "bash"};
  const char path[] = "/usr/bin/true";
  std::memcpy(r.path, path, sizeof path);
  r.path_len = sizeof path;
  const char argv[] = "true\0alpha\0beta\0--flag=value";
  std::memcpy(r.argv, argv, sizeof argv);
  r.argv_len = sizeof argv;
  r.hdr.argc = 4;
  return r;
}

}  // namespace

int main() {
  if (geteuid() != 0) {
    kata_sentry::bench::fail_unmeasured("host_probes_bench", "needs root (loads BPF programs)");
  }

  double off_before = median_ns_per_op();

  SyscallProbesOptions o;
  o.scope_enabled = true;
  o.exclude_tgid = UINT32_MAX;  // this process must be traceable for "scoped in"
  auto probes = SyscallProbes::open(o);
  if (!probes) {
    std::fprintf(stderr, "host_probes_bench: %s\n", probes.error().describe().c_str());
    return 1;
  }
  double scoped_away = median_ns_per_op();

  // Scoped in: a consumer thread drains the ring buffer, as `trace` would.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  std::thread consumer([&] {
    while (!stop.load())
      (void)(*probes)->poll(50, [&](std::span<const uint8_t>) { consumed.fetch_add(1, std::memory_order_relaxed); });
    (void)(*probes)->poll(0, [&](std::span<const uint8_t>) { consumed.fetch_add(1, std::memory_order_relaxed); });
  });
  auto before = (*probes)->stats();
  if (!(*probes)->watch_tgid(static_cast<uint32_t>(getpid()))) return 1;
  double scoped_in = median_ns_per_op();
  (void)(*probes)->unwatch_tgid(static_cast<uint32_t>(getpid()));
  stop = true;
  consumer.join();
  auto after = (*probes)->stats();
  probes->reset();

  double off_after = median_ns_per_op();
  double off = std::min(off_before, off_after);

  // Decode throughput on a realistic exec record (the largest decode path).
  ks_event rec = sample_record();
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(&rec), sizeof rec);
  kata_sentry::BootClock clock(0);
  constexpr int kDecodes = 500000;
  size_t sink = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < kDecodes; ++i) {
    auto e = kata_sentry::decode_event(bytes, kata_sentry::View::host, clock);
    sink += e ? e->proc.args.size() : 0;
  }
  double decode_s = std::chrono::duration<double>(Clock::now() - t0).count();
  constexpr int kJson = 100000;
  t0 = Clock::now();
  for (int i = 0; i < kJson; ++i) {
    auto e = kata_sentry::decode_event(bytes, kata_sentry::View::host, clock);
    if (e) sink += kata_sentry::event_to_json_line(*e).size();
  }
  double json_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::printf("host probes overhead: openat(/dev/null)+close, %d iterations x %d rounds, median\n", kIterations,
              kRounds);
  std::printf("  %-34s %10s %10s\n", "mode", "ns/op", "vs off");
  std::printf("  %-34s %10.0f %9.2fx\n", "off (no probes)", off, 1.0);
  std::printf("  %-34s %10.0f %9.2fx\n", "attached, scoped away", scoped_away, scoped_away / off);
  std::printf("  %-34s %10.0f %9.2fx\n", "attached, scoped in (+ consumer)", scoped_in, scoped_in / off);
  std::printf("  (off before/after attach: %.0f / %.0f ns/op)\n", off_before, off_after);
  if (before && after)
    std::printf("  scoped in: %llu records submitted, %llu consumed, %llu ring-buffer drops, %llu pairing drops\n",
                static_cast<unsigned long long>(after->events - before->events),
                static_cast<unsigned long long>(consumed.load()),
                static_cast<unsigned long long>(after->ringbuf_drops - before->ringbuf_drops),
                static_cast<unsigned long long>(after->pending_drops - before->pending_drops));
  std::printf("decode: ring-buffer record (%zu B, execve) -> Event   %12.0f events/s\n", sizeof(ks_event),
              kDecodes / decode_s);
  std::printf("decode + JSON line                                    %12.0f events/s\n", kJson / json_s);
  if (sink == 0) kata_sentry::bench::fail_unmeasured("host_probes_bench", "no event decoded into a JSON line");
  kata_sentry::bench::record_figure("host_ratio_scoped_away", scoped_away / off);
  kata_sentry::bench::record_figure("host_ratio_traced", scoped_in / off);
  kata_sentry::bench::record_figure("decode_json_m_per_s", kJson / json_s / 1e6);
  return 0;
}
