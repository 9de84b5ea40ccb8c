// joined_bench: detection latency from a guest syscall to the alert on the host (p50, p99), and
// the guest->host event rate the joined view sustains, with every drop counter. One sandbox,
// host probes off (they do not carry guest events). Accelerator printed: TCG on this machine.
//
// Latency = host wall clock when the alert is raised - the event's timestamp, which the guest
// stamps with its own clock (guest boottime + the guest's realtime offset). The guest's realtime
// comes from the host at boot, so the two clocks agree to the extent QEMU's RTC does; the
// offset is estimated (guest `date` vs host time around it) and printed beside the figures.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/oci/oci_spec.h"
#include "policy-engine/loader.h"
#include "cli/run_monitor.h"
#include "monitor/sandbox_monitor.h"
#include "runtime/sandbox/sandbox.h"
#include "bench/support/bench_figures.h"

using namespace kata_sentry;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRules = R"(
- rule: bench marker open
  desc: bench
  condition: view = guest and evt.type = openat and fd.name startswith /tmp/ks-lat-
  output: marker (file=%fd.name)
  priority: NOTICE
)";

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

struct Run {
  int code = -1;
  std::string out;
};

Run run(runtime::Sandbox& sb, const std::string& id, const std::string& script) {
  Run r;
  auto& agent = sb.agent();
  if (!sb.create_container(id, default_oci_spec({"sh", "-c", script}, false), "", false)) return r;
  if (!agent.start_container(id)) return r;
  std::thread out([&] {
    (void)agent.read_output(id, "", [&](std::string_view d) { r.out.append(d); }, [](std::string_view) {});
  });
  auto w = agent.wait_process(id, "");
  out.join();
  if (w) r.code = w->shell_code();
  (void)agent.remove_container(id);
  return r;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    bench::fail_unmeasured("joined_bench", "needs root (boots a guest)");
  }
  auto created = runtime::Sandbox::create(runtime::SandboxOptions{});
  if (!created) {
    std::fprintf(stderr, "joined_bench: boot: %s\n", created.error().describe().c_str());
    return 1;
  }
  auto& sb = **created;
  auto loaded = policy::load_rules({{"bench.yaml", kRules}});
  auto engine = std::make_unique<policy::Engine>(std::move(loaded.rules), policy::EngineConfig{});
  std::mutex mu;
  std::vector<double> latency_ms;
  monitor::MonitorOptions o;
  o.sandbox_id = sb.id();
  o.container_ids = {"latency", "flood", "clock"};
  o.guard.events_per_s = 1e9;  // measure the path, not the host-side limit
  o.guard.burst = 1e9;
  o.on_alert = [&](const policy::Alert& a) {
    if (a.events.empty()) return;
    std::lock_guard l(mu);
    latency_ms.push_back((static_cast<double>(wall_ns()) - static_cast<double>(a.events.back().time_ns)) / 1e6);
  };
  auto m = monitor::SandboxMonitor::start(std::move(engine), o, cli::hooks_for(sb), nullptr);
  if (!m || !(*m)->flush(10s)) {
    std::fprintf(stderr, "joined_bench: the guest sensor does not stream (%s)\n", m ? "no heartbeats" : m.error().describe().c_str());
    (void)sb.destroy();
    return 1;
  }
  auto& mon = **m;

  // Guest clock vs host clock: a container answers each stdin line with its realtime (busybox
  // adjtimex, microseconds); the host brackets each ping and keeps the tightest one.
  double offset_ms = 0, offset_err_ms = 1e9;
  {
    auto& agent = sb.agent();
    const std::string script =
        "while read x; do adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf \"%s.%06d\\n\",s,u}'; done";
    // Privileged: the default seccomp profile refuses adjtimex (even read-only).
    if (sb.create_container("clock", default_oci_spec({"sh", "-c", script}, true), "", true) &&
        agent.start_container("clock")) {
      std::mutex omu;
      std::condition_variable ocv;
      std::string buf;
      std::thread out([&] {
        (void)agent.read_output("clock", "", [&](std::string_view d) {
          std::lock_guard l(omu);
          buf.append(d);
          ocv.notify_all();
        }, [](std::string_view) {});
      });
      for (int i = 0; i < 10; ++i) {
        std::unique_lock l(omu);
        buf.clear();
        l.unlock();
        uint64_t t0 = wall_ns();
        if (!agent.write_stdin("clock", "", "x\n")) break;
        l.lock();
        if (!ocv.wait_for(l, 5s, [&] { return buf.find('\n') != std::string::npos; })) break;
        uint64_t t1 = wall_ns();
        double guest = 0;
        try {
          guest = std::stod(buf) * 1e3;
        } catch (...) {
          continue;
        }
        double err = (t1 - t0) / 2e6;
        if (err < offset_err_ms) {
          offset_err_ms = err;
          offset_ms = guest - (static_cast<double>(t0) + static_cast<double>(t1)) / 2e6;
        }
      }
      (void)agent.close_stdin("clock", "");
      (void)agent.wait_process("clock", "");
      out.join();
      (void)agent.remove_container("clock");
    }
  }

  // Latency: 200 marker opens, 20 ms apart.
  run(sb, "latency", "i=0; while [ $i -lt 200 ]; do : > /tmp/ks-lat-$i; i=$((i+1)); usleep 20000; done");
  (void)mon.flush(5s);
  std::vector<double> lat;
  {
    std::lock_guard l(mu);
    lat = latency_ms;
  }
  // The guest stamps events with its clock: correct by the measured offset when it is known.
  if (offset_err_ms < 1e8)
    for (auto& v : lat) v += offset_ms;

  // Throughput: a tight open/close loop for 5 s; events accepted per second and every drop.
  auto s0 = mon.stats();
  auto t0 = std::chrono::steady_clock::now();
  run(sb, "flood", "end=$(($(date +%s)+5)); while [ $(date +%s) -lt $end ]; do for i in 1 2 3 4 5 6 7 8 9 10; do : > /tmp/f; done; done");
  (void)mon.flush(5s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto s1 = mon.stats();
  mon.stop();
  const char* accel = vm::accelerator_name(sb.vm().accelerator());
  (void)sb.destroy();

  std::printf("joined_bench (accelerator: %s; guest clock ahead of host by %+.1f ms +- %.1f ms, corrected)\n", accel,
              offset_ms, offset_err_ms);
  std::printf("  detection latency guest syscall -> host alert: n=%zu p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", lat.size(),
              pct(lat, 0.5), pct(lat, 0.99), lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()));
  uint64_t ev = s1.guest.events - s0.guest.events;
  if (lat.empty()) bench::fail_unmeasured("joined_bench", "no latency sample: no marker alert reached the host");
  bench::record_figure("latency_p50_ms", pct(lat, 0.5));
  bench::record_figure("latency_p99_ms", pct(lat, 0.99));
  std::printf("  guest->host events: %llu in %.1f s = %.0f events/s; drops: host rate-limit %llu, seq missing %llu, "
              "guest ring buffer %llu, guest rate-limit %llu, guest queue %llu\n",
              (unsigned long long)ev, secs, ev / secs, (unsigned long long)(s1.guest.rate_limited - s0.guest.rate_limited),
              (unsigned long long)(s1.guest.seq_missing - s0.guest.seq_missing),
              (unsigned long long)s1.guest_reported.ringbuf_drops, (unsigned long long)s1.guest_reported.rate_limited,
              (unsigned long long)s1.guest_reported.queue_drops);
  return 0;
}
