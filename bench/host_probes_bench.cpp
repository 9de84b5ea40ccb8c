// Host probe overhead on a traced syscall (openat of /dev/null + close), in one run, the modes
// interleaved round by round:
//   off              every program detached
//   scoped away      probes attached, scope on, this process not watched (one map lookup)
//   scoped in        this process watched: every openat builds, pairs and ships a record
//   never wanted     watched, but no rule has ever wanted open events: their programs are not
//                    attached at all (what a sandbox whose rules want no open costs)
//   unwanted         watched, open events wanted once and no longer (a rule reload): their
//                    programs stay attached and the wanted-types filter returns before any
//                    record is built (in-kernel filtering, issue 15)
//   path unwanted    watched, open wanted, but the rules' path prefixes (field_filters_map)
//                    match no /dev/null: the record is built, then dropped before it is parked
//                    or shipped (what a process no rule's path matches costs)
// and the user-space cost of decoding a ring-buffer record into an Event.
#include <fcntl.h>
#include <linux/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
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
constexpr int kRounds = 7;

double ns_per_op_once() {
  auto t0 = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kIterations;
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

  SyscallProbesOptions o;
  o.scope_enabled = true;
  o.exclude_tgid = UINT32_MAX;  // this process must be traceable for "scoped in"
  auto probes = SyscallProbes::open(o);
  if (!probes) {
    std::fprintf(stderr, "host_probes_bench: %s\n", probes.error().describe().c_str());
    return 1;
  }
  // Scoped in: a consumer thread drains the ring buffer, as `trace` would.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  std::thread consumer([&] {
    while (!stop.load())
      (void)(*probes)->poll(50, [&](std::span<const uint8_t>) { consumed.fetch_add(1, std::memory_order_relaxed); });
    (void)(*probes)->poll(0, [&](std::span<const uint8_t>) { consumed.fetch_add(1, std::memory_order_relaxed); });
  });
  // A rule set without open events: every other type stays wanted.
  const SyscallProbes::TypeMask all = SyscallProbes::TypeMask().set();
  SyscallProbes::TypeMask no_open = all;
  for (int t : {KS_EVT_OPEN, KS_EVT_OPENAT, KS_EVT_OPENAT2}) no_open.reset(static_cast<size_t>(t));
  // A rule set whose open rules name paths under /etc and /root only (Falco's style).
  kata_sentry::FieldFilters etc_only;
  for (auto t : {kata_sentry::EventType::open, kata_sentry::EventType::openat, kata_sentry::EventType::openat2})
    etc_only[t].path = std::set<kata_sentry::StringMatch>{{"/etc/", true}, {"/root/", true}, {"/etc/shadow", false}};

  // The four modes one after the other in each round, so that a busy machine's drift hits them
  // alike; each figure is the median of the per-round ratios to that round's "off" (every
  // program detached: the kernel runs none of them).
  const uint32_t self = static_cast<uint32_t>(getpid());
  std::vector<double> off_ns, away_ns, in_ns, unwanted_ns, never_ns, path_ns, r_away, r_in, r_unwanted, r_never, r_path;
  kata_sentry::probes::ProbeStats in_stats, unwanted_stats, path_stats;
  auto add = [](kata_sentry::probes::ProbeStats& sum, const auto& a, const auto& b) {
    if (!a || !b) return;
    sum.events += b->events - a->events;
    sum.ringbuf_drops += b->ringbuf_drops - a->ringbuf_drops;
    sum.pending_drops += b->pending_drops - a->pending_drops;
    sum.filtered += b->filtered - a->filtered;
    sum.filtered_fields += b->filtered_fields - a->filtered_fields;
  };
  auto check = [](const kata_sentry::Status& st, const char* what) {
    if (!st) kata_sentry::bench::fail_unmeasured("host_probes_bench", std::string(what) + ": " + st.error().describe());
  };
  for (int r = 0; r < kRounds; ++r) {
    check((*probes)->set_attached(false), "detach");
    double off = ns_per_op_once();
    check((*probes)->set_wanted_types(no_open), "set_wanted_types");
    check((*probes)->set_attached(true), "attach");  // every program but the open ones
    check((*probes)->watch_tgid(self), "watch");
    double never = ns_per_op_once();
    check((*probes)->unwatch_tgid(self), "unwatch");
    check((*probes)->set_wanted_types(all), "set_wanted_types");  // attaches the open programs
    double away = ns_per_op_once();
    check((*probes)->watch_tgid(self), "watch");
    auto s0 = (*probes)->stats();
    double in = ns_per_op_once();
    auto s1 = (*probes)->stats();
    check((*probes)->set_wanted_types(no_open), "set_wanted_types");
    double unw = ns_per_op_once();
    auto s2 = (*probes)->stats();
    check((*probes)->set_wanted_types(all), "set_wanted_types");
    check((*probes)->set_field_filters(etc_only), "set_field_filters");
    auto s3 = (*probes)->stats();
    double path = ns_per_op_once();
    auto s4 = (*probes)->stats();
    check((*probes)->set_field_filters({}), "set_field_filters");
    check((*probes)->unwatch_tgid(self), "unwatch");
    add(in_stats, s0, s1);
    add(unwanted_stats, s1, s2);
    add(path_stats, s3, s4);
    path_ns.push_back(path);
    r_path.push_back(path / off);
    off_ns.push_back(off);
    away_ns.push_back(away);
    in_ns.push_back(in);
    unwanted_ns.push_back(unw);
    never_ns.push_back(never);
    r_never.push_back(never / off);
    r_away.push_back(away / off);
    r_in.push_back(in / off);
    r_unwanted.push_back(unw / off);
  }
  stop = true;
  consumer.join();
  probes->reset();
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double off = median(off_ns), scoped_away = median(away_ns), scoped_in = median(in_ns), unwanted = median(unwanted_ns),
               never = median(never_ns), path_unwanted = median(path_ns);

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

  std::printf("host probes overhead: openat(/dev/null)+close, %d iterations per mode, %d interleaved rounds\n",
              kIterations, kRounds);
  std::printf("  %-34s %10s %10s  %s\n", "mode", "ns/op", "vs off", "(median of per-round ratios; rounds)");
  auto row = [](const char* label, double ns, const std::vector<double>& ratios) {
    std::vector<double> v = ratios;
    std::sort(v.begin(), v.end());
    std::printf("  %-34s %10.0f %9.2fx ", label, ns, v.empty() ? 1.0 : v[v.size() / 2]);
    for (double r : ratios) std::printf(" %.2f", r);
    std::printf("\n");
  };
  std::printf("  %-34s %10.0f %9.2fx\n", "off (programs detached)", off, 1.0);
  row("attached, scoped away", scoped_away, r_away);
  row("attached, scoped in (+ consumer)", scoped_in, r_in);
  row("scoped in, open never wanted", never, r_never);
  row("scoped in, open unwanted (reload)", unwanted, r_unwanted);
  row("scoped in, open wanted, path not", path_unwanted, r_path);
  std::printf("  scoped in: %llu records submitted, %llu consumed, %llu ring-buffer drops, %llu pairing drops\n",
              static_cast<unsigned long long>(in_stats.events), static_cast<unsigned long long>(consumed.load()),
              static_cast<unsigned long long>(in_stats.ringbuf_drops),
              static_cast<unsigned long long>(in_stats.pending_drops));
  std::printf("  no rule wants open: %llu syscalls filtered in the kernel, %llu records submitted\n",
              static_cast<unsigned long long>(unwanted_stats.filtered),
              static_cast<unsigned long long>(unwanted_stats.events));
  std::printf("  no rule's path prefix matches: %llu records dropped in the kernel, %llu submitted\n",
              static_cast<unsigned long long>(path_stats.filtered_fields),
              static_cast<unsigned long long>(path_stats.events));
  std::printf("decode: ring-buffer record (%zu B, execve) -> Event   %12.0f events/s\n", sizeof(ks_event),
              kDecodes / decode_s);
  std::printf("decode + JSON line                                    %12.0f events/s\n", kJson / json_s);
  if (sink == 0) kata_sentry::bench::fail_unmeasured("host_probes_bench", "no event decoded into a JSON line");
  if (unwanted_stats.filtered == 0)
    kata_sentry::bench::fail_unmeasured("host_probes_bench", "no syscall was filtered with open unwanted");
  kata_sentry::bench::record_figure("host_ratio_scoped_away", median(r_away));
  kata_sentry::bench::record_figure("host_ratio_traced", median(r_in));
  kata_sentry::bench::record_figure("host_ratio_unwanted", median(r_unwanted));
  kata_sentry::bench::record_figure("host_ratio_never_wanted", median(r_never));
  if (path_stats.filtered_fields == 0)
    kata_sentry::bench::fail_unmeasured("host_probes_bench", "no record was dropped for its path");
  kata_sentry::bench::record_figure("host_ratio_path_unwanted", median(r_path));
  kata_sentry::bench::record_figure("decode_json_m_per_s", kJson / json_s / 1e6);
  return 0;
}
