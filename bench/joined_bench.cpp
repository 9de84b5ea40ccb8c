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
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/container/oci_spec.h"
#include "policy-engine/loader.h"
#include "runtime/monitor/sandbox_monitor.h"
#include "runtime/sandbox/sandbox.h"

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
  if (!sb.create_container(id, agent::default_oci_spec({"sh", "-c", script}, false), "", false)) return r;
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
    std::fprintf(stderr, "joined_bench: needs root\n");
    return 0;
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
  o.host_probes = false;
  o.guest_events_per_s = 1e9;  // measure the path, not the host-side limit
  o.guest_burst = 1e9;
  o.on_alert = [&](const policy::Alert& a) {
    if (a.events.empty()) return;
    std::lock_guard l(mu);
    latency_ms.push_back((static_cast<double>(wall_ns()) - static_cast<double>(a.events.back().time_ns)) / 1e6);
  };
  auto m = monitor::SandboxMonitor::start(std::move(engine), o, monitor::hooks_for(sb), nullptr);
  if (!m || !(*m)->flush(10s)) {
    std::fprintf(stderr, "joined_bench: the guest sensor does not stream (%s)\n", m ? "no heartbeats" : m.error().describe().c_str());
    (void)sb.destroy();
    return 1;
  }
  auto& mon = **m;

  // Guest clock vs host clock: the guest prints its realtime; the host time is bracketed.
  uint64_t before = wall_ns();
  auto d = run(sb, "clock", "date +%s%N");
  uint64_t after = wall_ns();
  double offset_ms = 0;
  try {
    offset_ms = (std::stod(d.out) - (static_cast<double>(before) + static_cast<double>(after)) / 2) / 1e6;
  } catch (...) {
  }

  // Latency: 200 marker opens, 20 ms apart.
  run(sb, "latency", "i=0; while [ $i -lt 200 ]; do : > /tmp/ks-lat-$i; i=$((i+1)); usleep 20000; done");
  (void)mon.flush(5s);
  std::vector<double> lat;
  {
    std::lock_guard l(mu);
    lat = latency_ms;
  }

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

  std::printf("joined_bench (accelerator: %s; guest clock offset %+.1f ms, not subtracted)\n",
              accel, offset_ms);
  std::printf("  detection latency guest syscall -> host alert: n=%zu p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", lat.size(),
              pct(lat, 0.5), pct(lat, 0.99), lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()));
  uint64_t ev = s1.guest_events - s0.guest_events;
  std::printf("  guest->host events: %llu in %.1f s = %.0f events/s; drops: host rate-limit %llu, seq missing %llu, "
              "guest ring buffer %llu, guest rate-limit %llu, guest queue %llu\n",
              (unsigned long long)ev, secs, ev / secs, (unsigned long long)(s1.guest_rate_limited - s0.guest_rate_limited),
              (unsigned long long)(s1.guest_seq_missing - s0.guest_seq_missing),
              (unsigned long long)s1.guest_reported.ringbuf_drops, (unsigned long long)s1.guest_reported.rate_limited,
              (unsigned long long)s1.guest_reported.queue_drops);
  return 0;
}
