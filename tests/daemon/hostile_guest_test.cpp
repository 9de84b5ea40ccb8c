// The guest is hostile: kata-sentryd (the real binary, with its host probes) fed by guests that
// flood, lie and hang, through the relay a shim would carry their bytes on. What must hold:
// the daemon's memory stays bounded and it keeps serving, another sandbox loses nothing, the
// flood is audited once (not a million times), and a sandbox whose shim hangs delays nobody else.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/guest_batch.h"
#include "guest_wire.h"
#include "tests/support/event_builder.h"
#include "tests/support/sentryd_harness.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::FakeVmm;
using testing::read_text;
using testing::wait_lines;
using Hostile = testing::SentrydFixture;

constexpr const char* kRules = R"(
- rule: marker open
  desc: an event the calm sandbox sends; each must arrive
  condition: view = guest and evt.type = openat and fd.name startswith /tmp/marker-
  output: marker (file=%fd.name sandbox=%sandbox.id)
  priority: NOTICE
- rule: kill on open
  desc: an action that needs the shim
  condition: view = guest and evt.type = openat and fd.name = /tmp/kill-me
  output: kill (sandbox=%sandbox.id)
  priority: CRITICAL
  action: kill
)";

// kB of a /proc/<pid>/status line ("VmRSS", "VmHWM").
uint64_t status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1));
  return 0;
}

size_t count_lines(const fs::path& file, const std::function<bool(const nlohmann::json&)>& pred) {
  std::istringstream lines(read_text(file));
  size_t n = 0;
  for (std::string l; std::getline(lines, l);) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    n += !j.is_discarded() && pred(j);
  }
  return n;
}

bool audit_of(const nlohmann::json& j, const std::string& sandbox, const std::string& prefix) {
  return j.value("audit", false) && j.value("sandbox", "") == sandbox && j.value("detail", "").rfind(prefix, 0) == 0;
}

class HostileGuestTest : public Hostile {
 protected:
  void start_with_rules(const std::string& mode) {
    std::ofstream(dir_ / "hostile.yaml") << kRules;
    write_config(mode, "rules:\n  - " + std::string(KS_SOURCE_RULES_DIR) + "\n  - " + (dir_ / "hostile.yaml").string() + "\n");
    start_configured();
  }
  const v1::SandboxStatus* status_of(const v1::ListSandboxesResponse& r, const std::string& id) {
    for (const auto& s : r.sandboxes())
      if (s.info().sandbox_id() == id) return &s;
    return nullptr;
  }
};

// The mixture a hostile guest sends, as wire bytes: what the shim would relay unchanged.
class FloodMix {
 public:
  FloodMix() {
    malformed_ = std::string("\x12\xff\xff\xff\xff\x0f garbage", 16);
    // Too many events for one batch: 5000 empty events, 2 bytes each on the wire.
    GuestEventBatch many;
    many.events.resize(5000, EventBuilder().guest().build());
    too_many_ = encode_guest_batch(many);
    // An amplification attempt: within every per-event limit, but 4096 events with 250 empty
    // arguments each would decode into far more memory than the budget.
    GuestEventBatch wide;
    Event e = EventBuilder().exec("/bin/x").guest().build();
    e.proc.args.assign(250, "");
    wide.events.assign(4096, e);
    amplifying_ = encode_guest_batch(wide);
  }
  // Message i of the flood; `seq` is the guest's numbering, which the flood abuses too.
  std::string next(uint64_t i, uint64_t& seq) {
    if (i % 100000 == 99999) return amplifying_;
    switch (i % 1000) {
      case 0 ... 29: {  // honest-looking, with a file name that is not UTF-8: accepted, then rate-limited
        GuestEventBatch b;
        b.first_seq = seq++;
        b.events = {EventBuilder().open("/tmp/\xff\xfe-" + std::to_string(i)).guest().container("c1").build()};
        return encode_guest_batch(b);
      }
      case 30 ... 59: {  // replayed: numbers already used
        GuestEventBatch b;
        b.first_seq = 0;
        b.events = {EventBuilder().open("/tmp/replayed").guest().container("c1").build()};
        return encode_guest_batch(b);
      }
      case 60 ... 69: {  // out of order: a jump ahead
        seq += 1000;
        GuestEventBatch b;
        b.first_seq = seq++;
        b.events = {EventBuilder().open("/tmp/jumped").guest().container("c1").build()};
        return encode_guest_batch(b);
      }
      case 70 ... 79:
        return too_many_;
      default:
        return malformed_;
    }
  }

 private:
  std::string malformed_, too_many_, amplifying_;
};

TEST_F(HostileGuestTest, AMillionBadMessagesLeaveMemoryBoundedAnotherSandboxWholeAndOneAuditRecord) {
  start_with_rules("monitor");
  FakeVmm vmm_flood, vmm_calm;
  ASSERT_TRUE(register_sandbox("flood", uint32_t(vmm_flood.pid())).ok());
  ASSERT_TRUE(register_sandbox("calm", uint32_t(vmm_calm.pid())).ok());
  auto flood = attach("flood");
  auto calm = attach("calm");
  ASSERT_EQ(flood->monitor_error.value_or("<none>"), "");
  ASSERT_EQ(calm->monitor_error.value_or("<none>"), "");
  const uint64_t rss_before = status_kb(pid_, "VmRSS");

  constexpr uint64_t kMessages = 1'000'000;
  std::atomic<uint64_t> sent{0};
  auto t0 = std::chrono::steady_clock::now();
  std::thread flooder([&] {
    FloodMix mix;
    uint64_t seq = 1'000'000;
    for (uint64_t i = 0; i < kMessages; i++) {
      if (!flood->send_raw(mix.next(i, seq))) break;
      sent = i + 1;
    }
    // The guest behaves again: its heartbeats continue its own numbering.
    std::lock_guard lock(flood->mu);
    flood->next_seq = seq;
  });

  // The calm sandbox, meanwhile: 200 batches of 10 events, one every 20 ms.
  constexpr int kCalmBatches = 200, kPerBatch = 10;
  for (int b = 0; b < kCalmBatches; b++) {
    std::vector<Event> evs;
    for (int i = 0; i < kPerBatch; i++)
      evs.push_back(EventBuilder().open("/tmp/marker-" + std::to_string(b * kPerBatch + i)).guest().container("c1"));
    ASSERT_TRUE(calm->send(evs, false));
    std::this_thread::sleep_for(20ms);  // paces the calm sandbox; nothing is asserted from it
  }
  // The daemon answers while the flood goes on.
  auto during = std::chrono::steady_clock::now();
  auto listed = list();
  auto list_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - during).count();
  EXPECT_EQ(listed.sandboxes_size(), 2);
  flooder.join();
  auto flood_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(sent.load(), kMessages) << "the daemon closed the flood's event path";

  // A last marker from the calm sandbox: once its alert is written, everything before it is in.
  ASSERT_TRUE(calm->send({EventBuilder().open("/tmp/marker-last").guest().container("c1")}, false));
  ASSERT_FALSE(wait_lines(alerts(), [](const nlohmann::json& j) {
                 return j.value("sandbox", "") == "calm" && j.value("output", "").find("/tmp/marker-last") != std::string::npos;
               }, 60s).empty())
      << read_text(log());
  // The flood's episode closes once the guest has been quiet for 10 s (its heartbeats go on).
  ASSERT_FALSE(wait_lines(alerts(), [](const nlohmann::json& j) { return audit_of(j, "flood", "guest input refused, episode over"); },
                          40s).empty())
      << read_text(log());

  const uint64_t rss_after = status_kb(pid_, "VmRSS"), rss_peak = status_kb(pid_, "VmHWM");
  auto after = list();
  const auto* f = status_of(after, "flood");
  const auto* c = status_of(after, "calm");
  ASSERT_TRUE(f && c);
  const size_t calm_alerts = count_lines(alerts(), [](const nlohmann::json& j) {
    return j.value("sandbox", "") == "calm" && j.value("rule", "") == "marker open";
  });
  const size_t flood_audits = count_lines(alerts(), [](const nlohmann::json& j) { return audit_of(j, "flood", "guest input refused ("); });
  const size_t flood_tamper = count_lines(alerts(), [](const nlohmann::json& j) {
    return j.value("sandbox", "") == "flood" && j.value("rule", "") == "Guest sensor silent or tampered";
  });
  std::printf(
      "hostile flood: %llu messages in %.1f s (%.0f/s); daemon RSS %llu KiB before, %llu KiB after, peak %llu KiB; "
      "ListSandboxes during the flood: %lld ms\n"
      "  flood sandbox: %llu events accepted, %llu rate-limited, %llu batches dropped, %llu missing by seq, %llu tamper alert(s) "
      "written, %zu 'input refused' audit record(s)\n"
      "  calm sandbox: %llu events, %zu marker alerts, %llu batches dropped, %llu rate-limited, %llu host queue drops\n",
      (unsigned long long)sent.load(), flood_s, sent.load() / flood_s, (unsigned long long)rss_before,
      (unsigned long long)rss_after, (unsigned long long)rss_peak, (long long)list_ms, (unsigned long long)f->guest_events(),
      (unsigned long long)f->guest_rate_limited(), (unsigned long long)f->guest_batches_dropped(),
      (unsigned long long)f->guest_seq_missing(), (unsigned long long)flood_tamper, flood_audits,
      (unsigned long long)c->guest_events(), calm_alerts, (unsigned long long)c->guest_batches_dropped(),
      (unsigned long long)c->guest_rate_limited(), (unsigned long long)c->host_queue_drops());

  // Memory: the relay queue (16 MiB) and the monitor's inbox (32 MiB) are the bounds; gRPC's
  // buffers come on top. A decoded flood would be gigabytes.
  EXPECT_LT(rss_peak, rss_before + 256 * 1024) << "peak RSS grew by more than 256 MiB";
  // The calm sandbox lost nothing.
  EXPECT_EQ(c->guest_events(), uint64_t(kCalmBatches * kPerBatch + 1));
  EXPECT_EQ(calm_alerts, size_t(kCalmBatches * kPerBatch + 1));
  EXPECT_EQ(c->guest_batches_dropped(), 0u);
  EXPECT_EQ(c->guest_rate_limited(), 0u);
  EXPECT_EQ(c->host_queue_drops(), 0u);
  // The flood was refused and counted, and audited once, not per message.
  EXPECT_GE(f->guest_batches_dropped(), kMessages * 9 / 10);
  EXPECT_EQ(flood_audits, 1u);
  EXPECT_LE(flood_tamper, size_t(flood_s / 10) + 2) << "tamper alerts are rate-limited to one per 10 s";
  ASSERT_TRUE(unregister("flood").ok());
  ASSERT_TRUE(unregister("calm").ok());
}

// A shim that stops answering: the sandbox's actions wait their 10 s each, and nothing of
// another sandbox waits with them, on the guest path or the host path.
TEST_F(HostileGuestTest, ASandboxWhoseRelayHangsDelaysNoOtherSandbox) {
  start_with_rules("enforce");
  FakeVmm vmm_hung, vmm_ok;
  ASSERT_TRUE(register_sandbox("hung", uint32_t(vmm_hung.pid())).ok());
  ASSERT_TRUE(register_sandbox("ok", uint32_t(vmm_ok.pid())).ok());
  // Enforce mode does not start a monitor without the guest's deny set, so this shim hangs
  // only once it has taken it.
  auto hung = attach("hung", true, Commands::hang_after_start);
  auto ok = attach("ok");
  ASSERT_TRUE(hung->monitor_error.has_value()) << "no MonitorStarted for the hung sandbox";
  ASSERT_EQ(ok->monitor_error.value_or("<none>"), "");

  // The hung sandbox's monitor now waits (10 s) for the shim to kill a process.
  ASSERT_TRUE(hung->send({EventBuilder().open("/tmp/kill-me").guest().container("c1").pid(77)}, false));
  auto t0 = std::chrono::steady_clock::now();
  // Meanwhile the other sandbox: a guest event and a host event (its VMM runs a shell).
  ASSERT_TRUE(ok->send({EventBuilder().open("/tmp/marker-ok").guest().container("c1")}, false));
  vmm_ok.run_shell();
  auto guest_alert = wait_lines(alerts(), [](const nlohmann::json& j) {
    return j.value("sandbox", "") == "ok" && j.value("rule", "") == "marker open";
  }, 8s);
  auto host_alert = wait_lines(alerts(), [](const nlohmann::json& j) {
    return j.value("sandbox", "") == "ok" && j.value("rule", "") == "Sandbox VMM execve";
  }, 8s);
  auto took = std::chrono::steady_clock::now() - t0;
  // Positive marker that the hung sandbox really was stuck all along: its kill ends in a timeout.
  auto stuck = wait_lines(alerts(), [](const nlohmann::json& j) {
    return audit_of(j, "hung", "failed to kill guest pid 77") && j.value("detail", "").find("did not answer in time") != std::string::npos;
  }, 30s);
  EXPECT_FALSE(guest_alert.empty()) << read_text(alerts());
  EXPECT_FALSE(host_alert.empty()) << read_text(alerts());
  EXPECT_LT(took, 8s);
  ASSERT_FALSE(stuck.empty()) << "the hung sandbox's kill never timed out\n" << read_text(alerts());
  std::printf("hung relay: the other sandbox's guest and host alerts came %lld ms after its events, while the hung one waited\n",
              (long long)std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  ASSERT_TRUE(unregister("ok").ok());
  ASSERT_TRUE(unregister("hung").ok());
}

}  // namespace
}  // namespace kata_sentry
