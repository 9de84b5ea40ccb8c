// Guest sensor cost and throughput, measured in booted sandboxes (TCG on this machine, so the
// absolute numbers are those of an emulated CPU; the ratio is what carries over).
//  1. Syscall cost inside the guest: a container opens /dev/null in a tight loop (one `cat`
//     with 500 arguments per iteration, so the loop measures open+read+close, not fork+exec;
//     /dev/null avoids virtio-fs round trips), timed by the guest's /proc/uptime. Once with the
//     sensor loaded, once in a sandbox booted with ks.sensor=off; the ratio is the overhead.
//  2. Guest -> host throughput: with the sensor on, every open makes two records (openat
//     tracepoint + lsm/file_open); the host reads StreamEvents and reports the rate it received
//     up to the first batch whose drop counters (ring buffer, rate limit, agent queue) moved.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "agent/container/oci_spec.h"
#include "runtime/sandbox/sandbox.h"

namespace ks = kata_sentry;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kOpensPerIteration = 500;

struct Phase {
  bool ok = false;
  double guest_seconds = 0;
  uint64_t received = 0, before_drop = 0;
  bool dropped = false;
  double stream_seconds = 0, seconds_to_drop = 0;
  ks::runtime::GuestSensorStats stats;
};

Phase run_phase(bool sensor_on, int iterations) {
  Phase ph;
  if (sensor_on) ::unsetenv("KATA_SENTRY_KERNEL_PARAMS");
  else ::setenv("KATA_SENTRY_KERNEL_PARAMS", "ks.sensor=off", 1);
  auto sb = ks::runtime::Sandbox::create({});
  ::unsetenv("KATA_SENTRY_KERNEL_PARAMS");
  if (!sb) {
    std::fprintf(stderr, "sandbox: %s\n", sb.error().describe().c_str());
    return ph;
  }
  auto& agent = (*sb)->agent();
  std::mutex mu;
  std::atomic<bool> stop{false}, counting{false};
  Clock::time_point first{}, last{}, drop_at{};
  std::thread reader;
  if (sensor_on)
    reader = std::thread([&] {
      (void)agent.stream_events([&](ks::runtime::GuestEventBatch&& b) {
        std::lock_guard lock(mu);
        auto now = Clock::now();
        if (counting && !b.events.empty()) {
          if (!ph.received) first = now;
          ph.received += b.events.size();
          last = now;
        }
        uint64_t drops = b.stats.ringbuf_drops + b.stats.rate_limited + b.stats.queue_drops;
        if (counting && drops && !ph.dropped) {
          ph.dropped = true;
          drop_at = now;
          ph.before_drop = ph.received;
        }
        ph.stats = b.stats;
        return !stop.load();
      });
    });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // boot-time events drain first
  counting = true;
  std::string loop = "set -- $(yes /dev/null | head -n " + std::to_string(kOpensPerIteration) +
                     "); read s _ < /proc/uptime; i=0; while [ $i -lt " + std::to_string(iterations) +
                     " ]; do cat \"$@\"; i=$((i+1)); done; read e _ < /proc/uptime; echo \"$s $e\"";
  std::string out;
  if (auto s = (*sb)->create_container("load", ks::agent::default_oci_spec({"sh", "-c", loop}, true), "", false); s) {
    (void)agent.start_container("load");
    std::thread output([&] { (void)agent.read_output("load", "", [&](std::string_view d) { out.append(d); }, {}); });
    (void)agent.wait_process("load", "");
    output.join();
    double gs = 0, ge = 0;
    ph.ok = std::sscanf(out.c_str(), "%lf %lf", &gs, &ge) == 2;
    ph.guest_seconds = ge - gs;
  } else {
    std::fprintf(stderr, "create: %s\n", s.error().describe().c_str());
  }
  if (sensor_on) std::this_thread::sleep_for(std::chrono::seconds(3));  // let the stream drain
  stop = true;
  (void)(*sb)->destroy();
  if (reader.joinable()) reader.join();
  std::lock_guard lock(mu);
  ph.stream_seconds = std::chrono::duration<double>(last - first).count();
  ph.seconds_to_drop = std::chrono::duration<double>(drop_at - first).count();
  return ph;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 100;
  const double opens = double(iterations) * kOpensPerIteration;
  Phase off = run_phase(false, iterations);
  Phase on = run_phase(true, iterations);
  if (!off.ok || !on.ok) {
    std::fprintf(stderr, "guest_probes_bench: a phase failed (off ok=%d, on ok=%d)\n", off.ok, on.ok);
    return 1;
  }
  double us_off = off.guest_seconds * 1e6 / opens, us_on = on.guest_seconds * 1e6 / opens;
  std::printf("guest_probes_bench (TCG guest, %.0f opens of /dev/null per phase)\n", opens);
  std::printf("  open+read+close in the guest: probes off %.2f us, on %.2f us, ratio on/off %.2f\n", us_off,
              us_on, us_off > 0 ? us_on / us_off : 0.0);
  std::printf("  guest->host: %llu events received in %.2f s = %.0f events/s\n",
              (unsigned long long)on.received, on.stream_seconds,
              on.stream_seconds > 0 ? on.received / on.stream_seconds : 0.0);
  if (on.dropped)
    std::printf("  first drop after %llu events, %.2f s: sustained %.0f events/s before it\n",
                (unsigned long long)on.before_drop, on.seconds_to_drop,
                on.seconds_to_drop > 0 ? on.before_drop / on.seconds_to_drop : 0.0);
  else
    std::printf("  no drop: the guest could not produce events faster than the stream carried them\n");
  std::printf("  sensor counters: ringbuf_drops=%llu rate_limited=%llu queue_drops=%llu lsm_enforcing=%d\n",
              (unsigned long long)on.stats.ringbuf_drops, (unsigned long long)on.stats.rate_limited,
              (unsigned long long)on.stats.queue_drops, int(on.stats.lsm_enforcing));
  return 0;
}
