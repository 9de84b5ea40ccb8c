// Guest sensor cost and throughput, in ONE booted sandbox (TCG on this machine, so absolute
// numbers are an emulated CPU's; the ratio is what carries over). The guest side is ks-load
// (bench/guest_load.c), a static helper run in a container; each operation is openat(/dev fd,
// "null") + close, which both probe sets see (openat tracepoint + lsm/file_open).
//
//  a. Syscall cost with probes on vs off, measured inside the guest: the host detaches and
//     re-attaches every guest probe (SetSensorAttached) between runs of `ks-load cost`, so both
//     modes run in the same kernel, interleaved (off,on / on,off alternately, against drift);
//     reported: the median of the per-round on/off ratios.
//  a0. The same for a process whose events no loaded rule wants: the host pushes a wanted set
//     without the open types (SetWantedTypes), so both probe sets return before building a
//     record (in-kernel filtering, issue 15).
//  a1. The same for a process whose opens are wanted but whose paths no rule names: the open
//     rules' path prefixes (/etc/, /root/) go with SetWantedTypes for every open type, the LSM's
//     file_open too (as the monitor pushes them: OperationJoiner::with_partner_filters), so the
//     tracepoint probes drop the record before parking it and the LSM hook after its deny
//     decision, before sending it.
//  a'. The same with the default rules' guest deny set installed (what enforce mode adds to
//     every file_open of a container: the hook walks its entries of the set).
//  b. Guest -> host event throughput before the first drop: `ks-load rate` makes R operations/s
//     from several processes; R grows by 1.5x per step until a drop counter (guest ring buffer,
//     guest rate limit, agent queue) moves or the guest cannot make R any more. Reported: the
//     highest host-received event rate of a step with zero drops, and which counter moved first.
// Detection latency (p50/p99) is joined_bench's.
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "guest_wire.h"
#include "core/oci/oci_spec.h"
#include "monitor/operation_joiner.h"
#include "monitor/rules_path.h"
#include "policy-engine/guest_deny_rules.h"
#include "runtime/sandbox/sandbox.h"
#include "bench/support/bench_figures.h"

namespace ks = kata_sentry;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

// The guest's drop counters, by where the record was lost.
struct Drops {
  uint64_t ringbuf = 0;       // the guest kernel's ring buffer was full
  uint64_t rate_limited = 0;  // the agent's per-sandbox rate limit
  uint64_t queue = 0;         // the agent's stream queue was full
  static Drops of(const ks::GuestSensorStats& s) { return {s.ringbuf_drops, s.rate_limited, s.queue_drops}; }
  uint64_t total() const { return ringbuf + rate_limited + queue; }
  Drops since(const Drops& before) const {
    return {ringbuf - before.ringbuf, rate_limited - before.rate_limited, queue - before.queue};
  }
  std::string describe() const {
    return "+" + std::to_string(ringbuf) + " guest ring buffer, +" + std::to_string(rate_limited) +
           " agent rate limit, +" + std::to_string(queue) + " agent queue";
  }
};

// What the host has received so far; updated by the stream reader.
struct StreamCount {
  std::mutex mu;
  uint64_t events = 0;
  Clock::time_point last_event{};
  ks::GuestSensorStats stats;  // as the guest last reported them
  std::pair<uint64_t, Drops> snapshot() {
    std::lock_guard l(mu);
    return {events, Drops::of(stats)};
  }
};

class Bench {
 public:
  std::string boot() {
    auto image = ks::vm::GuestImage::locate(ks::vm::GuestImage::default_dir());
    if (!image) return image.error().describe();
    rootfs_ = fs::temp_directory_path() / ("ks-load-rootfs-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(rootfs_, ec);
    fs::copy(image->default_rootfs, rootfs_, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (!ec) fs::create_directories(rootfs_ / "usr/local/bin", ec);
    if (!ec) fs::copy_file(KS_LOAD_HELPER, rootfs_ / "usr/local/bin/ks-load", fs::copy_options::overwrite_existing, ec);
    if (ec) return "rootfs with ks-load: " + ec.message();
    // Two vCPUs: the generator's processes and the agent's stream then do not take turns on
    // one CPU, so the rate can climb until a drop counter moves.
    ks::runtime::SandboxOptions options;
    options.cpus = 2;
    auto sb = ks::runtime::Sandbox::create(options);
    if (!sb) return sb.error().describe();
    sb_ = std::move(*sb);
    reader_ = std::thread([this] {
      (void)sb_->agent().stream_events([this](std::string&& wire) {
        auto decoded = ks::decode_guest_batch(wire);
        if (!decoded) return !stop_.load();
        const auto& b = *decoded;
        std::lock_guard l(count_.mu);
        if (!b.events.empty()) count_.last_event = Clock::now();
        count_.events += b.events.size();
        count_.stats = b.stats;
        return !stop_.load();
      });
    });
    std::this_thread::sleep_for(2s);  // boot-time records drain first
    return "";
  }

  ~Bench() {
    stop_ = true;
    if (sb_) (void)sb_->destroy();
    if (reader_.joinable()) reader_.join();
    std::error_code ec;
    if (!rootfs_.empty()) fs::remove_all(rootfs_, ec);
  }

  // Runs ks-load with `args` in a fresh container; returns its stdout ("" on failure).
  std::string load(std::vector<std::string> args) {
    std::string id = "load" + std::to_string(++n_), out;
    args.insert(args.begin(), "ks-load");
    auto& agent = sb_->agent();
    if (!sb_->create_container(id, ks::default_oci_spec(args, true), rootfs_, false)) return "";
    if (!agent.start_container(id)) return "";
    std::thread output([&] { (void)agent.read_output(id, "", [&](std::string_view d) { out.append(d); }, {}); });
    (void)agent.wait_process(id, "");
    output.join();
    (void)agent.remove_container(id);
    return out;
  }

  // Waits until no event arrived for 500 ms (the step's records are all in), at most 10 s.
  void drain() {
    auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
      std::this_thread::sleep_for(100ms);
      std::lock_guard l(count_.mu);
      if (Clock::now() - count_.last_event > 500ms) return;
    }
  }

  ks::runtime::AgentClient& agent() { return sb_->agent(); }
  const std::string& sandbox_id() const { return sb_->id(); }
  StreamCount count_;

 private:
  fs::path rootfs_;
  std::unique_ptr<ks::runtime::Sandbox> sb_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  int n_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    kata_sentry::bench::fail_unmeasured("guest_probes_bench", "needs root (boots a guest)");
  }
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 9;
  const long ops = argc > 2 ? std::atol(argv[2]) : 50000;
  Bench b;
  if (auto err = b.boot(); !err.empty()) {
    std::fprintf(stderr, "guest_probes_bench: %s\n", err.c_str());
    return 1;
  }

  // a. cost, interleaved in one boot; then a'. with the default deny set installed
  struct Cost {
    std::vector<double> ratios, on_ns, off_ns;
  };
  auto measure = [&](Cost& c) -> bool {
    for (int r = 0; r < rounds; ++r) {
      double ns[2] = {0, 0};  // [off, on]
      for (int k = 0; k < 2; ++k) {
        bool on = (r % 2 == 0) ? k == 1 : k == 0;
        if (auto st = b.agent().set_sensor_attached(on); !st) {
          std::fprintf(stderr, "guest_probes_bench: %s\n", st.error().describe().c_str());
          return false;
        }
        auto out = b.load({"cost", std::to_string(ops)});
        if (std::sscanf(out.c_str(), "ns_per_op %lf", &ns[on]) != 1) {
          std::fprintf(stderr, "guest_probes_bench: ks-load cost said '%s'\n", out.c_str());
          return false;
        }
      }
      c.off_ns.push_back(ns[0]);
      c.on_ns.push_back(ns[1]);
      c.ratios.push_back(ns[1] / ns[0]);
    }
    return true;
  };
  Cost plain, unwanted, path_unwanted, deny;
  if (!measure(plain)) return 1;
  std::bitset<ks::kEventTypeSlots> no_open;
  no_open.set();
  for (auto t : {ks::EventType::open, ks::EventType::openat, ks::EventType::openat2, ks::EventType::lsm_file_open})
    no_open.reset(static_cast<size_t>(t));
  if (auto st = b.agent().set_wanted_types(no_open); !st) {
    std::fprintf(stderr, "guest_probes_bench: %s\n", st.error().describe().c_str());
    return 1;
  }
  if (!measure(unwanted)) return 1;
  // What open rules naming /etc and /root give (rules/kata_sentry_rules.yaml's): the monitor
  // hands every type of the open operation, the LSM's file_open included, the same condition
  // (OperationJoiner::with_partner_filters).
  ks::FieldFilters etc_only;
  const auto open_operation = ks::monitor::OperationJoiner::with_partners(
      std::bitset<ks::kEventTypeSlots>().set(static_cast<size_t>(ks::EventType::openat)));
  for (auto t : ks::all_event_types())
    if (open_operation.test(static_cast<size_t>(t)))
      etc_only[t].path = std::set<ks::StringMatch>{{"/etc/", true}, {"/root/", true}};
  if (auto st = b.agent().set_wanted_types(std::bitset<ks::kEventTypeSlots>().set(), etc_only); !st) {
    std::fprintf(stderr, "guest_probes_bench: %s\n", st.error().describe().c_str());
    return 1;
  }
  if (!measure(path_unwanted)) return 1;
  if (auto st = b.agent().set_wanted_types(std::bitset<ks::kEventTypeSlots>().set()); !st) {
    std::fprintf(stderr, "guest_probes_bench: %s\n", st.error().describe().c_str());
    return 1;
  }
  auto dir = ks::monitor::default_rules_dir();
  if (!dir) {
    std::fprintf(stderr, "guest_probes_bench: %s\n", dir.error().describe().c_str());
    return 1;
  }
  auto engine = ks::monitor::load_engine({*dir}, ks::policy::Mode::enforce);
  if (!engine) {
    std::fprintf(stderr, "guest_probes_bench: default rules: %s\n", engine.error().describe().c_str());
    return 1;
  }
  auto rules = ks::policy::guest_deny_rules((*engine)->enforcement_specs(), b.sandbox_id());
  auto refused = b.agent().set_enforcement(rules);
  if (!refused || !refused->empty()) {
    std::fprintf(stderr, "guest_probes_bench: default deny set: %s\n",
                 refused ? refused->front().c_str() : refused.error().describe().c_str());
    return 1;
  }
  if (!measure(deny)) return 1;
  (void)b.agent().set_enforcement({});
  (void)b.agent().set_sensor_attached(true);
  b.drain();

  // b. throughput until the first drop
  double best_rate = 0, best_target = 0;
  std::string stop_reason = "no drop up to the last step";
  for (double target = 1000; target <= 256000; target *= 1.5) {
    auto [ev0, drop0] = b.count_.snapshot();
    // 5 s per step: longer than the guest bucket's burst (40000 events) lasts at its 20000/s.
    auto out = b.load({"rate", std::to_string(long(target)), "5", "4"});
    long done = 0;
    double secs = 0;
    if (std::sscanf(out.c_str(), "ops %ld seconds %lf", &done, &secs) != 2 || secs <= 0) {
      stop_reason = "ks-load rate failed: " + out;
      break;
    }
    b.drain();
    auto [ev1, drop1] = b.count_.snapshot();
    double rate = double(ev1 - ev0) / secs;
    const Drops dropped = drop1.since(drop0);
    std::printf("  step: %7.0f ops/s asked, %7.0f made, %8.0f events/s received, drops %s\n", target, done / secs,
                rate, dropped.describe().c_str());
    if (dropped.total()) {
      stop_reason = "first drop at " + std::to_string(long(rate)) + " events/s (" + dropped.describe() + ")";
      break;
    }
    if (rate > best_rate) {
      best_rate = rate;
      best_target = target;
    }
    if (done / secs < 0.8 * target) {
      stop_reason = "the guest could not make more operations (CPU-bound before any drop)";
      break;
    }
  }

  std::printf("guest_probes_bench (one TCG guest boot, 2 vCPUs)\n");
  auto report = [&](const char* label, const Cost& c) {
    std::printf("  %s open+close inside the guest, %d interleaved rounds of %ld: probes off %.0f ns, on %.0f ns (medians),"
                " median ratio on/off %.2f (rounds:",
                label, rounds, ops, median(c.off_ns), median(c.on_ns), median(c.ratios));
    for (double r : c.ratios) std::printf(" %.2f", r);
    std::printf(")\n");
  };
  report("a. ", plain);
  std::printf("  a0. the same, no loaded rule wants open (filtered in the guest kernel):\n");
  report("   ", unwanted);
  std::printf("  a1. the same, open wanted but no rule's path prefix matches (dropped in the guest kernel):\n");
  report("   ", path_unwanted);
  std::printf("  a'. with the default deny set (%zu guest deny rules) installed:\n", rules.size());
  report("   ", deny);
  std::printf("  b. guest->host: %.0f events/s sustained with zero drops (at %.0f ops/s asked); stop: %s\n", best_rate,
              best_target, stop_reason.c_str());
  if (plain.ratios.empty()) kata_sentry::bench::fail_unmeasured("guest_probes_bench", "no open+close round completed");
  kata_sentry::bench::record_figure("guest_open_close_ratio_traced", median(plain.ratios));
  if (!unwanted.ratios.empty())
    kata_sentry::bench::record_figure("guest_open_close_ratio_unwanted", median(unwanted.ratios));
  if (!path_unwanted.ratios.empty())
    kata_sentry::bench::record_figure("guest_open_close_ratio_path_unwanted", median(path_unwanted.ratios));
  if (best_rate > 0) kata_sentry::bench::record_figure("guest_events_zero_drop_per_s", best_rate);
  auto s = b.count_.stats;
  std::printf("     guest counters over the whole boot (the rounds above included): ringbuf_drops=%llu rate_limited=%llu queue_drops=%llu lsm_enforcing=%d\n",
              (unsigned long long)s.ringbuf_drops, (unsigned long long)s.rate_limited,
              (unsigned long long)s.queue_drops, int(s.lsm_enforcing));
  return 0;
}
