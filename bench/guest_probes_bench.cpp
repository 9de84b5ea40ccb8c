// Guest sensor throughput: a container in a booted sandbox opens a file in a tight shell loop
// (each iteration = one openat tracepoint record + one lsm/file_open record) while the host
// reads StreamEvents. Reports the event rate the host received up to the first batch whose
// drop counters (ring buffer, rate limit, agent queue) moved, the total, and the guest-side
// time per loop iteration. TCG on this machine: absolute numbers are those of an emulated CPU.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "agent/container/oci_spec.h"
#include "runtime/sandbox/sandbox.h"

namespace ks = kata_sentry;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
  auto sb = ks::runtime::Sandbox::create({});
  if (!sb) {
    std::fprintf(stderr, "sandbox: %s\n", sb.error().describe().c_str());
    return 1;
  }
  auto& agent = (*sb)->agent();
  std::mutex mu;
  uint64_t received = 0, before_drop = 0;
  bool dropped = false;
  Clock::time_point first{}, drop_at{}, last{};
  ks::runtime::GuestSensorStats stats;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    (void)agent.stream_events([&](ks::runtime::GuestEventBatch&& b) {
      std::lock_guard lock(mu);
      auto now = Clock::now();
      uint64_t drops = b.stats.ringbuf_drops + b.stats.rate_limited + b.stats.queue_drops;
      if (!b.events.empty()) {
        if (!received) first = now;
        received += b.events.size();
        last = now;
      }
      if (drops && !dropped) {
        dropped = true;
        drop_at = now;
        before_drop = received;
      }
      stats = b.stats;
      return !stop.load();
    });
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // boot-time events drain first
  {
    std::lock_guard lock(mu);
    received = 0;
  }
  std::string loop = "i=0; s=$(date +%s%N); while [ $i -lt " + std::to_string(iterations) +
                     " ]; do : < /etc/passwd; i=$((i+1)); done; e=$(date +%s%N); echo $(( (e - s) / " +
                     std::to_string(iterations) + " ))";
  auto t0 = Clock::now();
  std::string out;
  if (auto s = (*sb)->create_container("load", ks::agent::default_oci_spec({"sh", "-c", loop}, true), "", false); !s) {
    std::fprintf(stderr, "create: %s\n", s.error().describe().c_str());
    return 1;
  }
  (void)agent.start_container("load");
  std::thread output([&] { (void)agent.read_output("load", "", [&](std::string_view d) { out.append(d); }, {}); });
  (void)agent.wait_process("load", "");
  output.join();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // let the stream drain
  stop = true;
  (void)(*sb)->destroy();
  reader.join();
  std::lock_guard lock(mu);
  double secs = std::chrono::duration<double>(last - first).count();
  std::printf("guest_probes_bench: %d open iterations in one container (TCG guest)\n", iterations);
  std::printf("  guest ns per open+close loop iteration (sensor loaded): %s", out.c_str());
  std::printf("  events received at host: %llu in %.2f s = %.0f events/s\n", (unsigned long long)received,
              secs, secs > 0 ? received / secs : 0.0);
  if (dropped) {
    double ds = std::chrono::duration<double>(drop_at - first).count();
    std::printf("  first drop after %llu events, %.2f s: sustained %.0f events/s before it\n",
                (unsigned long long)before_drop, ds, ds > 0 ? before_drop / ds : 0.0);
  } else {
    std::printf("  no drops (sustained rate is at least the rate above)\n");
  }
  std::printf("  drops: ringbuf=%llu rate_limited=%llu queue=%llu; lsm_enforcing=%d; total %.1f s\n",
              (unsigned long long)stats.ringbuf_drops, (unsigned long long)stats.rate_limited,
              (unsigned long long)stats.queue_drops, int(stats.lsm_enforcing),
              std::chrono::duration<double>(Clock::now() - t0).count());
  return 0;
}
