// SandboxMonitor without a VM: a fake guest (hooks) streams batches, so tagging, enforcement
// bookkeeping, the rate limit and the tamper watchdog are tested exactly and fast.
#include <fcntl.h>
#include <signal.h>

#include <atomic>
#include <bitset>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "policy-engine/loader.h"
#include "monitor/rules_path.h"
#include "guest_wire.h"
#include "monitor/sandbox_monitor.h"
#include "tests/support/event_builder.h"

namespace kata_sentry::monitor {
namespace {

using namespace std::chrono_literals;
using testing::EventBuilder;

constexpr const char* kRules = R"(
- rule: core_pattern
  desc: t
  condition: view = guest and evt.type in (openat, lsm_file_open) and fd.name = /proc/sys/kernel/core_pattern
  output: core_pattern (sandbox=%sandbox.id container=%container.id)
  priority: CRITICAL
  action: deny
- rule: shadow
  desc: t
  condition: view = guest and evt.type = openat and fd.name = /etc/shadow
  output: shadow read (sandbox=%sandbox.id)
  priority: WARNING
  action: kill
)";

std::unique_ptr<policy::Engine> engine(policy::Mode mode) {
  auto loaded = policy::load_rules({{"t.yaml", kRules}});
  EXPECT_FALSE(loaded.diagnostics.has_errors()) << loaded.diagnostics.items().at(0).to_text();
  policy::EngineConfig cfg;
  cfg.mode = mode;
  return std::make_unique<policy::Engine>(std::move(loaded.rules), cfg);
}

// A guest whose batches the test pushes; stream_events ends when the monitor says stop.
class FakeGuest {
 public:
  void push(const GuestEventBatch& b) { raw(encode_guest_batch(b)); }
  // Any bytes on the stream, as a hostile guest sends them.
  void raw(std::string wire) {
    std::lock_guard l(mu_);
    q_.push_back(std::move(wire));
    cv_.notify_all();
  }
  void heartbeat() {
    GuestEventBatch b;
    b.heartbeat = true;
    b.first_seq = seq_;
    b.stats.lsm_enforcing = lsm_;
    push(std::move(b));
  }
  void events(std::vector<Event> evs) {
    GuestEventBatch b;
    b.stats.lsm_enforcing = lsm_;
    b.first_seq = seq_;
    seq_ += evs.size();
    b.events = std::move(evs);
    push(std::move(b));
  }
  void skip(uint64_t n) { seq_ += n; }
  void end() {
    std::lock_guard l(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  SandboxHooks hooks() {
    SandboxHooks h;
    // Batches go out as the agent sends them: wire bytes, decoded by the monitor's guard.
    h.stream_events = [this](const std::function<bool(std::string&&)>& fn) -> Status {
      for (;;) {
        std::unique_lock l(mu_);
        cv_.wait_for(l, 50ms, [&] { return !q_.empty() || ended_; });
        if (ended_) return {};
        if (q_.empty()) {
          // Like the real agent, an idle stream sends heartbeats, which lets stop() end it.
          if (!auto_heartbeat_ || ++idle_ < 4) continue;
          idle_ = 0;
          GuestEventBatch hb;
          hb.heartbeat = true;
          hb.first_seq = seq_;
          hb.stats.lsm_enforcing = lsm_;
          l.unlock();
          if (!fn(encode_guest_batch(hb))) return {};
          continue;
        }
        auto b = std::move(q_.front());
        q_.pop_front();
        l.unlock();
        if (!fn(std::move(b))) return {};
      }
    };
    h.set_enforcement = [this](const std::vector<DenyRule>& rules) -> Result<std::vector<std::string>> {
      std::lock_guard l(mu_);
      pushed_ = rules;
      return std::vector<std::string>{};
    };
    h.kill_guest_process = [this](uint32_t pid, int sig) -> Status {
      std::lock_guard l(mu_);
      killed_.push_back({pid, sig});
      return {};
    };
    h.vm_running = [this] {
      ++vm_running_asked_;
      return true;
    };
    h.abort_guest_stream = [this] { end(); };
    return h;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;  // wire bytes
  bool ended_ = false;
  bool auto_heartbeat_ = true;
  bool lsm_ = false;  // batches say the guest's BPF LSM is active (records come in pairs)
  int idle_ = 0;
  std::atomic<uint64_t> seq_{0};
  // How often the monitor asked whether the VM runs: its heartbeat watchdog asks on every round,
  // right before it judges the silence, so two more asks prove one whole round went by.
  std::atomic<uint64_t> vm_running_asked_{0};
  std::vector<DenyRule> pushed_;
  std::vector<std::pair<uint32_t, int>> killed_;
};

struct Collected {
  std::mutex mu;
  std::vector<policy::Alert> alerts;
  std::vector<AuditRecord> audits;
  size_t alert_count() {
    std::lock_guard l(mu);
    return alerts.size();
  }
};

MonitorOptions options(Collected& c) {
  MonitorOptions o;
  o.sandbox_id = "sb-host-knows";
  o.sandbox_name = "pod-a";
  o.vmm_pid = 4242;
  o.container_ids = {"c1"};
  o.on_alert = [&c](const policy::Alert& a) {
    std::lock_guard l(c.mu);
    c.alerts.push_back(a);
  };
  o.on_audit = [&c](const AuditRecord& r) {
    std::lock_guard l(c.mu);
    c.audits.push_back(r);
  };
  return o;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 3000ms) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

Event core_pattern_open() {
  return EventBuilder().open("/proc/sys/kernel/core_pattern", O_WRONLY).guest().container("c1").pid(77).sandbox("forged", "forged");
}

TEST(SandboxMonitor, GuestEventsCarryTheHostsSandboxIdNotTheGuests) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  Event forged = core_pattern_open();
  forged.view = View::host;  // the guest cannot claim to be the host either
  g.heartbeat();
  g.events({forged});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  const auto& a = c.alerts[0];
  EXPECT_EQ(a.rule, "core_pattern");
  EXPECT_EQ(a.sandbox, "sb-host-knows");
  EXPECT_EQ(a.view, View::guest);
  EXPECT_FALSE(a.enforced);  // monitor mode
  EXPECT_EQ(a.events.at(0).sandbox_name, "pod-a");
  EXPECT_EQ(a.output_fields["sandbox.id"], "sb-host-knows");
  EXPECT_TRUE(g.pushed_.empty());  // monitor mode pushes nothing
  EXPECT_TRUE(c.audits.empty());
}

TEST(SandboxMonitor, EnforceModePushesDenySetAndAuditsTheBlock) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  ASSERT_EQ(g.pushed_.size(), 1u);
  EXPECT_EQ(g.pushed_[0].name, "core_pattern");
  Event denied = core_pattern_open();
  denied.type = EventType::lsm_file_open;
  denied.flags = 1u << 1;  // KS_F_DENIED
  denied.res = -EPERM;
  g.events({denied});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  EXPECT_TRUE(c.alerts[0].enforced);
  ASSERT_EQ(c.audits.size(), 2u);  // the push at start, then the block
  EXPECT_TRUE(c.audits[0].ok);
  EXPECT_NE(c.audits[0].detail.find("installed 1 deny rule(s) in the guest LSM: core_pattern"), std::string::npos);
  EXPECT_NE(c.audits[1].detail.find("denied in-kernel by guest LSM"), std::string::npos) << c.audits[1].detail;
  EXPECT_EQ(c.audits[1].rule, "core_pattern");
}

TEST(SandboxMonitor, DenyMatchThatWentThroughIsNotCalledEnforced) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.events({core_pattern_open()});  // res = 3: the open succeeded
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  EXPECT_FALSE(c.alerts[0].enforced);
  ASSERT_EQ(c.audits.size(), 2u);
  EXPECT_FALSE(c.audits[1].ok);
}

TEST(SandboxMonitor, KillActionKillsTheGuestProcess) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.events({EventBuilder().open("/etc/shadow").guest().container("c1").pid(99)});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(g.killed_.size(), 1u);
  EXPECT_EQ(g.killed_[0], (std::pair<uint32_t, int>{99, SIGKILL}));
  EXPECT_TRUE(c.alerts[0].enforced);
  EXPECT_EQ(c.audits.back().detail, "killed guest pid 99 () with SIGKILL via the agent");
}

TEST(SandboxMonitor, SequenceGapRaisesOneRateLimitedTamperAlert) {
  FakeGuest g;
  Collected c;
  auto o = options(c);
  o.tamper_alert_interval = 60s;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  g.skip(5);
  g.heartbeat();
  g.skip(2);
  g.heartbeat();
  ASSERT_TRUE(wait_for([&] { return (*m)->stats().guest.batches >= 3; }));
  (*m)->stop();
  auto s = (*m)->stats();
  EXPECT_EQ(s.guest.seq_missing, 7u);
  EXPECT_EQ(s.tamper_alerts, 1u);
  EXPECT_EQ(s.tamper_alerts_suppressed, 1u);
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].rule, kTamperRule);
  EXPECT_EQ(c.alerts[0].priority, policy::Priority::critical);
  EXPECT_NE(c.alerts[0].output.find("5 event(s) missing"), std::string::npos) << c.alerts[0].output;
}

TEST(SandboxMonitor, MissingHeartbeatsRaiseTamperAlertWithTheSilence) {
  FakeGuest g;
  g.auto_heartbeat_ = false;
  Collected c;
  auto o = options(c);
  o.heartbeat_timeout = 300ms;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  // Still silent. The marker that the watchdog judged this silence again after its alert: two
  // more of its rounds (each asks vm_running first, then judges). A second report of the same
  // silence would be an alert, or a suppressed one (tamper alerts are rate-limited): neither.
  uint64_t asked = g.vm_running_asked_;
  ASSERT_TRUE(wait_for([&] { return g.vm_running_asked_ >= asked + 2; }));
  auto s = (*m)->stats();
  EXPECT_EQ(s.tamper_alerts, 1u);
  EXPECT_EQ(s.tamper_alerts_suppressed, 0u);
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_NE(c.alerts[0].output.find("no heartbeat for"), std::string::npos) << c.alerts[0].output;
}

// A sensor still loading (no heartbeat yet) is not "silent": on a busy TCG host it takes
// seconds, and the agent starts no container before it is up.
TEST(SandboxMonitor, NoHeartbeatYetIsNotSilenceUntilTheSensorStartTimeout) {
  FakeGuest g;
  g.auto_heartbeat_ = false;
  Collected c;
  auto o = options(c);
  o.heartbeat_timeout = 300ms;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  // The marker: the watchdog judged the silence ten times (>= 1 s, over three heartbeat timeouts).
  ASSERT_TRUE(wait_for([&] { return g.vm_running_asked_ >= 10; }));
  EXPECT_EQ((*m)->stats().tamper_alerts, 0u);
  g.heartbeat();  // the sensor is up: from now on silence counts
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_NE(c.alerts[0].output.find("no heartbeat for"), std::string::npos) << c.alerts[0].output;
}

TEST(SandboxMonitor, SensorThatNeverStartsIsAlarmedAfterTheStartTimeout) {
  FakeGuest g;
  g.auto_heartbeat_ = false;
  Collected c;
  auto o = options(c);
  o.sensor_start_timeout = 300ms;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].rule, kTamperRule);
  EXPECT_NE(c.alerts[0].output.find("sent no heartbeat in its first"), std::string::npos) << c.alerts[0].output;
}

TEST(SandboxMonitor, FloodingGuestIsRateLimitedOnTheHost) {
  FakeGuest g;
  Collected c;
  auto o = options(c);
  o.guard.burst = 10;
  o.guard.events_per_s = 1;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  std::vector<Event> flood(100, EventBuilder().open("/tmp/x").guest().build());
  g.events(flood);
  ASSERT_TRUE(wait_for([&] { return (*m)->stats().guest.batches >= 1; }));
  (*m)->stop();
  auto s = (*m)->stats();
  EXPECT_GE(s.guest.rate_limited, 89u);
  EXPECT_LE(s.guest.events, 11u);
  EXPECT_EQ(s.guest.events + s.guest.rate_limited, 100u);
  // The flood is audited when it starts and summed up when the monitor stops, not per event.
  std::lock_guard l(c.mu);
  size_t refused = 0, over = 0;
  for (const auto& r : c.audits) {
    refused += r.detail.rfind("guest input refused (rate_limited)", 0) == 0;
    over += r.detail.rfind("guest input refused, episode over", 0) == 0;
  }
  EXPECT_EQ(refused, 1u);
  EXPECT_EQ(over, 1u);
}

TEST(SandboxMonitor, DefaultRulesPushCorePatternDenyInEnforceMode) {
  auto dir = default_rules_dir();
  ASSERT_TRUE(dir) << dir.error().describe();
  auto e = load_engine({*dir}, policy::Mode::enforce);
  ASSERT_TRUE(e) << e.error().describe();
  FakeGuest g;
  Collected c;
  auto o = options(c);
  o.guest_stream = false;
  auto m = SandboxMonitor::start(std::move(*e), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  // The write rule itself is the deny rule: in the LSM it is the open of that file for writing.
  bool found = false;
  for (const auto& r : g.pushed_)
    found |= r.name == "Guest core_pattern write" && r.exact_paths == std::vector<std::string>{"/proc/sys/kernel/core_pattern"} &&
             r.arg && r.arg->name == "flags" && r.arg->any_bit;
  EXPECT_TRUE(found);
}

// ------------------------------------------------------------------ one operation, one alert

// A guest open of core_pattern as the sensor reports it: the LSM record (inside the syscall)
// and the openat record (at exit, stamped with the enter time), same tid.
struct OpenRecords {
  Event sys, lsm;
};
OpenRecords core_pattern_write(uint64_t enter_ns, bool denied) {
  auto base = EventBuilder().guest().container("c1").pid(77).time_ns(enter_ns);
  OpenRecords r;
  r.sys = EventBuilder(base).open("/proc/sys/kernel/core_pattern", O_WRONLY | O_TRUNC).res(denied ? -EPERM : 3).build();
  r.lsm = EventBuilder(base).open("/proc/sys/kernel/core_pattern", O_WRONLY | O_TRUNC, EventType::lsm_file_open).no_res()
              .time_ns(enter_ns + 20'000).flags(denied ? (1u << 1) : 0).build();
  return r;
}

std::unique_ptr<policy::Engine> default_engine(policy::Mode mode) {
  auto dir = default_rules_dir();
  EXPECT_TRUE(dir) << dir.error().describe();
  auto e = load_engine({*dir}, mode);
  EXPECT_TRUE(e) << e.error().describe();
  return std::move(*e);
}

// "Exactly one alert" below needs proof that nothing more can come, not a sleep longer than the
// hold: flush() returns once two heartbeats sent after the call have arrived (the stream is
// FIFO, so every batch the test sent has been evaluated), and stop() then releases whatever
// record still waits for its partner. An operation that was not joined is a second alert.

TEST(OperationJoin, CorePatternWriteIsOneAlertInMonitorMode) {
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto m = SandboxMonitor::start(default_engine(policy::Mode::monitor), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  g.heartbeat();
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, false);
  g.events({r.lsm, r.sys});  // the LSM record first, as usual
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  ASSERT_TRUE((*m)->flush(5s)) << "the fake guest's stream stalled";
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u) << policy::alert_to_json_line(c.alerts.back());
  const auto& a = c.alerts[0];
  EXPECT_EQ(a.rule, "Guest core_pattern write");  // both records match it: one alert, not two
  EXPECT_EQ(a.also_matched, std::vector<std::string>{});
  EXPECT_FALSE(a.enforced);
  EXPECT_FALSE(policy::alert_to_json(a).contains("also_matched"));
}

TEST(OperationJoin, EnforceModeSyscallRecordFirstStillOneEnforcedAlertAndOneAudit) {
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto m = SandboxMonitor::start(default_engine(policy::Mode::enforce), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  g.heartbeat();
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, true);
  g.events({r.sys});  // the other ring buffer was read first
  g.events({r.lsm});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  ASSERT_TRUE((*m)->flush(5s)) << "the fake guest's stream stalled";
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u) << policy::alert_to_json_line(c.alerts.back());
  EXPECT_TRUE(c.alerts[0].enforced);
  EXPECT_EQ(c.alerts[0].events.back().type, EventType::lsm_file_open);
  size_t blocks = 0;
  for (const auto& a : c.audits) blocks += a.detail.find("denied in-kernel by guest LSM") != std::string::npos;
  EXPECT_EQ(blocks, 1u);
}

TEST(OperationJoin, RepeatedWritesPairRecordByRecord) {
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto m = SandboxMonitor::start(default_engine(policy::Mode::monitor), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  auto a = core_pattern_write(1'763'880'000'000'000'000ull, false);
  auto b = core_pattern_write(1'763'880'000'000'100'000ull, false);  // the same thread, 100 µs later
  // Each ring buffer is read in order; the two interleave arbitrarily.
  g.events({a.sys, b.sys, a.lsm, b.lsm});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 2; }));
  ASSERT_TRUE((*m)->flush(5s)) << "the fake guest's stream stalled";
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 2u);
}

TEST(OperationJoin, RecordWithoutPartnerIsReportedAfterTheHold) {
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto o = options(c);
  o.join.hold = 100ms;
  auto m = SandboxMonitor::start(default_engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  // A failed open never reaches the LSM hook: only the syscall record exists.
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, false);
  r.sys.res = -ENOENT;
  auto t0 = std::chrono::steady_clock::now();
  g.events({r.sys});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].rule, "Guest core_pattern write");
}

// The common case must not wait for the syscall's exit: an LSM record that comes first and
// whose rules only alert is reported on its own arrival. The hold is an hour, so nothing but
// the early release can report it before the syscall record is sent.
TEST(OperationJoin, AlertOnlyLsmRecordIsReportedBeforeItsSyscallRecordComes) {
  constexpr const char* kRules = R"(
- rule: open core_pattern
  desc: t
  condition: view = guest and evt.type in (openat, lsm_file_open) and fd.name = /proc/sys/kernel/core_pattern
  output: core_pattern
  priority: WARNING
- rule: opened core_pattern
  desc: on the result, which only the syscall record has
  condition: view = guest and evt.type = openat and fd.name = /proc/sys/kernel/core_pattern and fd.num >= 0
  output: opened
  priority: NOTICE
)";
  auto loaded = policy::load_rules({{"j.yaml", kRules}});
  ASSERT_FALSE(loaded.diagnostics.has_errors()) << loaded.diagnostics.items().at(0).to_text();
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto o = options(c);
  o.join.hold = std::chrono::hours(1);
  auto m = SandboxMonitor::start(std::make_unique<policy::Engine>(std::move(loaded.rules), policy::EngineConfig{}), o,
                                 g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, false);
  g.events({r.lsm});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; })) << "the LSM record's alert waited for its partner";
  g.events({r.sys});
  // The syscall record adds only the rule the LSM record could not match.
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 2; }));
  ASSERT_TRUE((*m)->flush(5s)) << "the fake guest's stream stalled";
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 2u) << policy::alert_to_json_line(c.alerts.back());
  EXPECT_EQ(c.alerts[0].rule, "open core_pattern");
  EXPECT_EQ(c.alerts[0].events.back().type, EventType::lsm_file_open);
  EXPECT_EQ(c.alerts[1].rule, "opened core_pattern");
  EXPECT_EQ(c.alerts[1].also_matched, std::vector<std::string>{});
}

// Rules on the LSM record of an open and rules on its syscall record may name other paths: each
// half's kernel filter must let through what the other half's rules may alert on, or the
// alert would wait the hold for a partner dropped in the kernel.
TEST(OperationJoin, PartnerFiltersAreTheUnionOfTheOperationsConditions) {
  auto only = [](std::string text, bool prefix) { return StringMatches(std::set<StringMatch>{{std::move(text), prefix}}); };
  std::bitset<kEventTypeSlots> types;
  types.set(static_cast<size_t>(EventType::openat));
  types.set(static_cast<size_t>(EventType::lsm_file_open));
  types.set(static_cast<size_t>(EventType::symlinkat));
  FieldFilters rules;
  rules[EventType::openat].path = only("/etc/", true);
  rules[EventType::lsm_file_open].path = only("/proc/sys/kernel/core_pattern", false);
  rules[EventType::symlinkat].path = only("/x/", true);  // not joinable: as it was
  FieldFilters f = OperationJoiner::with_partner_filters(types, rules);
  ASSERT_TRUE(f.contains(EventType::openat));
  EXPECT_TRUE(passes(f[EventType::openat].path, "/proc/sys/kernel/core_pattern"));
  EXPECT_TRUE(passes(f[EventType::openat].path, "/etc/passwd"));
  EXPECT_FALSE(passes(f[EventType::openat].path, "/tmp/x"));
  EXPECT_EQ(f[EventType::openat], f[EventType::lsm_file_open]);
  EXPECT_EQ(f[EventType::openat], f[EventType::openat2]) << "a partner the rules do not name gets the same";
  EXPECT_EQ(f[EventType::symlinkat], rules[EventType::symlinkat]);

  // One half without a condition: the whole operation has none.
  rules.erase(EventType::lsm_file_open);
  f = OperationJoiner::with_partner_filters(types, rules);
  EXPECT_FALSE(f.contains(EventType::openat));
  EXPECT_FALSE(f.contains(EventType::lsm_file_open));
}

TEST(OperationJoin, InjectedPairIsJoinedToo) {
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto m = SandboxMonitor::start(default_engine(policy::Mode::monitor), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  ASSERT_TRUE((*m)->flush(3s));  // the guest has said its LSM is active
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, false);
  (*m)->inject(r.sys);
  (*m)->inject(r.lsm);
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  EXPECT_EQ(c.alert_count(), 1u) << "the two records of one operation are one alert";
}

TEST(OperationJoin, SequenceCompletedByAGuestRecordStaysItsOwnAlert) {
  constexpr const char* kSeqRules = R"(
- rule: open core_pattern
  desc: t
  condition: view = guest and evt.type in (openat, lsm_file_open) and fd.name = /proc/sys/kernel/core_pattern
  output: core_pattern
  priority: WARNING
- sequence: unshare then core_pattern
  desc: t
  by: [sandbox.id]
  within: 10s
  steps:
    - condition: view = guest and evt.type = unshare
    - condition: view = guest and evt.type = lsm_file_open and fd.name = /proc/sys/kernel/core_pattern
  output: seq
  priority: CRITICAL
)";
  auto loaded = policy::load_rules({{"s.yaml", kSeqRules}});
  ASSERT_FALSE(loaded.diagnostics.has_errors()) << loaded.diagnostics.items().at(0).to_text();
  FakeGuest g;
  g.lsm_ = true;
  Collected c;
  auto m = SandboxMonitor::start(std::make_unique<policy::Engine>(std::move(loaded.rules), policy::EngineConfig{}),
                                 options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  auto r = core_pattern_write(1'763'880'000'000'000'000ull, false);
  Event unshare = EventBuilder().guest().container("c1").pid(77).type(EventType::unshare).args({0x10000000})
                      .time_ns(1'763'879'999'000'000'000ull);
  g.events({unshare, r.lsm, r.sys});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 2; }));
  ASSERT_TRUE((*m)->flush(5s)) << "the fake guest's stream stalled";
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 2u);
  int sequences = 0;
  for (const auto& a : c.alerts) sequences += a.is_sequence;
  EXPECT_EQ(sequences, 1);
}

// Enforce mode with host-view deny rules but no host cgroup to attach to: the monitor says
// host deny is unavailable (audit, not fatal) and never calls a host operation blocked.
TEST(SandboxMonitor, HostDenyWithoutCgroupIsAuditedUnavailableNeverClaimed) {
  auto dir = default_rules_dir();
  ASSERT_TRUE(dir) << dir.error().describe();
  auto e = load_engine({*dir}, policy::Mode::enforce);
  ASSERT_TRUE(e) << e.error().describe();
  FakeGuest g;
  Collected c;
  auto o = options(c);
  o.guest_stream = false;
  auto m = SandboxMonitor::start(std::move(*e), o, g.hooks(), nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  for (const auto& r : g.pushed_) EXPECT_NE(r.name, "Sandbox VMM INET connect denied") << "a host rule went to the guest";
  (*m)->inject(EventBuilder().connect("127.0.0.1", 9).res(-EPERM).host().pid(99).name("sh").vmm(4242));
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard l(c.mu);
    for (const auto& a : c.alerts)
      if (a.rule == "Sandbox VMM INET connect denied") return true;
    return false;
  }));
  (*m)->stop();
  EXPECT_FALSE((*m)->stats().actions.host_deny_attached);
  std::lock_guard l(c.mu);
  bool unavailable = false, claimed = false, not_blocked = false;
  for (const auto& r : c.audits) {
    unavailable |= !r.ok && r.view == View::host && r.detail.find("host deny unavailable: the sandbox has no host cgroup") != std::string::npos &&
                   r.detail.find("Sandbox VMM INET connect denied") != std::string::npos;
    claimed |= r.ok && r.rule == "Sandbox VMM INET connect denied";
    not_blocked |= !r.ok && r.rule == "Sandbox VMM INET connect denied" && r.detail.find("not blocked: host deny unavailable") != std::string::npos;
  }
  EXPECT_TRUE(unavailable);
  EXPECT_FALSE(claimed);
  EXPECT_TRUE(not_blocked);
  for (const auto& a : c.alerts)
    if (a.rule == "Sandbox VMM INET connect denied") {
      EXPECT_FALSE(a.enforced);
    }
}

// ------------------------------------------------------------------ the guest is hostile

TEST(HostileGuest, BadBatchesAreDroppedCountedAuditedOnceAndTheStreamCarriesOn) {
  FakeGuest g;
  Collected c;
  auto o = options(c);
  o.guard.limits.max_events = 8;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), o, g.hooks(), nullptr);
  ASSERT_TRUE(m);
  g.heartbeat();
  g.events({core_pattern_open()});  // seq 0
  GuestEventBatch replay;
  replay.first_seq = 0;             // numbers already used: a replay
  replay.events = {core_pattern_open()};
  g.raw(std::string("\xff\xfe\x00garbage", 10));                      // malformed
  g.events(std::vector<Event>(9, EventBuilder().open("/tmp/x").guest().build()));  // too many events
  Event unknown = core_pattern_open();
  unknown.type = static_cast<EventType>(999);
  g.events({unknown});                                                // invalid event
  g.push(replay);
  g.events({EventBuilder().open("/etc/shadow").guest().container("c1").pid(99)});  // an honest batch after all that
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard l(c.mu);
    for (const auto& a : c.alerts)
      if (a.rule == "shadow") return true;
    return false;
  }));
  ASSERT_TRUE((*m)->flush(5s));
  (*m)->stop();
  auto s = (*m)->stats();
  EXPECT_EQ(s.guest.batches_refused[size_t(GuestDropReason::malformed)], 1u);
  EXPECT_EQ(s.guest.batches_refused[size_t(GuestDropReason::too_many_events)], 1u);
  EXPECT_EQ(s.guest.batches_refused[size_t(GuestDropReason::invalid_event)], 1u);
  EXPECT_EQ(s.guest.batches_replayed, 1u);
  EXPECT_EQ(s.guest.drop_episodes, 1u);
  std::lock_guard l(c.mu);
  size_t core_pattern = 0, refused = 0, over = 0;
  for (const auto& a : c.alerts) core_pattern += a.rule == "core_pattern";
  EXPECT_EQ(core_pattern, 1u) << "the replayed copy must not be evaluated";
  for (const auto& r : c.audits) {
    refused += r.detail.rfind("guest input refused (", 0) == 0;
    over += r.detail.rfind("guest input refused, episode over: 4 refusal(s)", 0) == 0;
  }
  EXPECT_EQ(refused, 1u) << "one audit record when the refusals start";
  EXPECT_EQ(over, 1u) << "and one that sums them up";
}

TEST(HostileGuest, AContainerTheHostNeverRegisteredIsTaggedUnknownAndAlarmedOnce) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  Event forged = core_pattern_open();
  forged.container_id = "someone-elses";
  g.events({forged, forged});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 3; }));
  ASSERT_TRUE((*m)->flush(5s));
  (*m)->stop();
  EXPECT_EQ((*m)->stats().guest.unknown_container, 2u);
  std::lock_guard l(c.mu);
  size_t alarms = 0, tagged = 0;
  for (const auto& a : c.alerts) {
    alarms += a.rule == "Guest event names an unknown container";
    if (a.rule == "core_pattern") tagged += a.events.back().container_id == kUnknownContainer;
  }
  EXPECT_EQ(alarms, 1u);
  EXPECT_EQ(tagged, 2u);
}

TEST(HostileGuest, AClaimOfDenialWithoutAHostDenyRuleBehindItIsNotEnforced) {
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), g.hooks(), nullptr);
  ASSERT_TRUE(m);
  // "shadow" is a kill rule, not a deny rule: no deny rule of the host's covers the open, so
  // the guest's word that the kernel refused it is reported, not believed.
  Event claimed = EventBuilder().open("/etc/shadow").guest().container("c1").pid(99).flags(1u << 1).res(-EPERM);
  g.events({claimed});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u);
  EXPECT_EQ(c.alerts[0].rule, "shadow");
  EXPECT_TRUE(c.alerts[0].guest_reports_denied);
  EXPECT_EQ(policy::alert_to_json(c.alerts[0])["guest_reports_denied"], true);
  EXPECT_EQ((*m)->stats().actions.guest_claims_uncorroborated, 1u);
}

TEST(HostileGuest, ADenyRuleTheGuestRefusedToInstallIsNeverCalledEnforced) {
  FakeGuest g;
  Collected c;
  auto hooks = g.hooks();
  hooks.set_enforcement = [](const std::vector<DenyRule>& rules) -> Result<std::vector<std::string>> {
    std::vector<std::string> refused;
    for (const auto& r : rules) refused.push_back(r.name + ": not supported here");
    return refused;
  };
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), hooks, nullptr);
  ASSERT_TRUE(m);
  Event denied = core_pattern_open();
  denied.type = EventType::lsm_file_open;
  denied.flags = 1u << 1;  // KS_F_DENIED: the guest says so
  denied.res = -EPERM;
  g.events({denied});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  (*m)->stop();
  std::lock_guard l(c.mu);
  EXPECT_FALSE(c.alerts[0].enforced);
  EXPECT_TRUE(c.alerts[0].guest_reports_denied);
  bool audited = false;
  for (const auto& r : c.audits)
    audited |= !r.ok && r.rule == "core_pattern" && r.detail.find("the guest reports the operation denied") != std::string::npos;
  EXPECT_TRUE(audited);
}

// Enforce mode is fail-closed: a guest whose agent cannot be given the deny set (here it never
// answers) must not run believed enforced. The monitor does not start, and says why in the
// audit log; monitor mode needs no push and starts.
TEST(HostileGuest, EnforceModeRefusesToStartWhenTheGuestDenySetCannotBePushed) {
  FakeGuest g;
  Collected c;
  auto hooks = g.hooks();
  int pushes = 0;
  hooks.set_enforcement = [&pushes](const std::vector<DenyRule>&) -> Result<std::vector<std::string>> {
    ++pushes;
    return fail(ErrorCode::timeout, "guest SetEnforcement for sandbox sb: the shim did not answer in time");
  };
  auto m = SandboxMonitor::start(engine(policy::Mode::enforce), options(c), hooks, nullptr);
  ASSERT_FALSE(m);
  EXPECT_EQ(pushes, 1);
  EXPECT_NE(m.error().message.find("the guest's deny set could not be installed"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("did not answer in time"), std::string::npos) << m.error().message;
  {
    std::lock_guard l(c.mu);
    ASSERT_EQ(c.audits.size(), 1u);
    EXPECT_FALSE(c.audits[0].ok);
    EXPECT_NE(c.audits[0].detail.find("failed"), std::string::npos) << c.audits[0].detail;
  }
  auto monitoring = SandboxMonitor::start(engine(policy::Mode::monitor), options(c), hooks, nullptr);
  ASSERT_TRUE(monitoring);
  EXPECT_EQ(pushes, 1);
  (*monitoring)->stop();
}

// Cross-view sequences run on the host's receive clock: a guest whose clock is minutes off
// (ahead used to wrap the unsigned window to "expired") neither breaks nor stretches them.
class GuestClock : public ::testing::TestWithParam<int> {};

TEST_P(GuestClock, CrossViewSequenceFiresWhateverTheGuestsClockSays) {
  constexpr const char* kSeq = R"(
- sequence: guest core_pattern then VMM shell
  desc: t
  by: [sandbox.id]
  within: 10s
  steps:
    - condition: view = guest and evt.type = openat and fd.name = /proc/sys/kernel/core_pattern
    - condition: view = host and evt.type = execve and proc.name = sh
  output: escape (sandbox=%sandbox.id)
  priority: CRITICAL
)";
  auto loaded = policy::load_rules({{"s.yaml", kSeq}});
  ASSERT_FALSE(loaded.diagnostics.has_errors()) << loaded.diagnostics.items().at(0).to_text();
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(std::make_unique<policy::Engine>(std::move(loaded.rules), policy::EngineConfig{}), options(c),
                                 g.hooks(), nullptr);
  ASSERT_TRUE(m);
  const auto skew = std::chrono::minutes(GetParam());
  uint64_t now = wall_now_ns();
  Event guest = core_pattern_open();
  guest.time_ns = now + std::chrono::duration_cast<std::chrono::nanoseconds>(skew).count();
  g.events({guest});
  ASSERT_TRUE((*m)->flush(5s));
  (*m)->feed_host(EventBuilder().exec("/bin/sh").host().pid(4243).name("sh").time_ns(wall_now_ns()).vmm(4242));
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard l(c.mu);
    for (const auto& a : c.alerts)
      if (a.is_sequence) return true;
    return false;
  })) << "skew " << GetParam() << " min";
  (*m)->stop();
  std::lock_guard l(c.mu);
  for (const auto& a : c.alerts) {
    if (!a.is_sequence) continue;
    ASSERT_EQ(a.events.size(), 2u);
    EXPECT_EQ(a.events[0].time_ns, guest.time_ns) << "the guest's own time is kept";
    EXPECT_NE(a.events[0].host_time_ns, a.events[0].time_ns) << "beside the host's receive time";
  }
}

INSTANTIATE_TEST_SUITE_P(MinutesAheadAndBehind, GuestClock, ::testing::Values(-5, 5),
                         [](const auto& info) { return info.param < 0 ? std::string("Behind") : std::string("Ahead"); });

TEST_P(GuestClock, ASequenceOlderThanItsWindowOnTheHostClockDoesNotFire) {
  constexpr const char* kSeq = R"(
- sequence: two guest opens
  desc: t
  by: [sandbox.id]
  within: 1s
  steps:
    - condition: view = guest and evt.type = openat and fd.name = /a
    - condition: view = guest and evt.type = openat and fd.name = /b
  output: two
  priority: CRITICAL
- rule: marker
  desc: t
  condition: view = guest and evt.type = openat and fd.name = /marker
  output: marker
  priority: NOTICE
)";
  auto loaded = policy::load_rules({{"s.yaml", kSeq}});
  ASSERT_FALSE(loaded.diagnostics.has_errors()) << loaded.diagnostics.items().at(0).to_text();
  FakeGuest g;
  Collected c;
  auto m = SandboxMonitor::start(std::make_unique<policy::Engine>(std::move(loaded.rules), policy::EngineConfig{}), options(c),
                                 g.hooks(), nullptr);
  ASSERT_TRUE(m);
  // The guest claims both opens happened at the same instant, but the host receives them
  // 1.5 s apart: the host's clock decides, so the window has passed.
  const auto skew = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::minutes(GetParam())).count();
  const uint64_t claimed = wall_now_ns() + skew;
  g.events({EventBuilder().open("/a").guest().container("c1").time_ns(claimed)});
  ASSERT_TRUE((*m)->flush(5s));
  std::this_thread::sleep_for(1500ms);  // paces the input: the point is the gap on the host's clock
  g.events({EventBuilder().open("/b").guest().container("c1").time_ns(claimed),
            EventBuilder().open("/marker").guest().container("c1").time_ns(claimed)});
  ASSERT_TRUE(wait_for([&] { return c.alert_count() >= 1; }));
  ASSERT_TRUE((*m)->flush(5s));
  (*m)->stop();
  std::lock_guard l(c.mu);
  ASSERT_EQ(c.alerts.size(), 1u) << c.alerts.back().rule;
  EXPECT_EQ(c.alerts[0].rule, "marker");
}

// In-kernel filtering: at start the monitor tells the guest the event types its rules can match
// (with the other half of each joinable operation, so the joiner never waits for a filtered
// record) and the paths those rules name, and widens the set to every type and path while raw
// events are followed.
TEST(SandboxMonitor, PushesTheRulesEventTypesToTheGuestAndWidensForFollowers) {
  using Types = std::bitset<kEventTypeSlots>;
  FakeGuest g;
  Collected c;
  std::mutex pmu;
  std::vector<Types> pushed;
  std::vector<FieldFilters> pushed_fields;
  auto hooks = g.hooks();
  hooks.set_wanted_types = [&](const Types& t, const FieldFilters& f) -> Status {
    std::lock_guard l(pmu);
    pushed.push_back(t);
    pushed_fields.push_back(f);
    return {};
  };
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), options(c), hooks, nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  auto wants = [](const Types& t, EventType e) { return t.test(static_cast<size_t>(e)); };
  Types first;
  {
    std::lock_guard l(pmu);
    ASSERT_EQ(pushed.size(), 1u) << "pushed in start(), before the first container";
    first = pushed[0];
  }
  EXPECT_TRUE(wants(first, EventType::openat));
  EXPECT_TRUE(wants(first, EventType::lsm_file_open));
  EXPECT_TRUE(wants(first, EventType::openat2)) << "file_open's other syscall halves";
  EXPECT_TRUE(wants(first, EventType::open_by_handle_at));
  EXPECT_FALSE(wants(first, EventType::connect));
  EXPECT_FALSE(wants(first, EventType::mount));
  EXPECT_EQ((*m)->host_wanted_types().count(), 0u) << "every rule here begins `view = guest`: the host builds none of their types";
  FieldFilters first_fields;
  {
    std::lock_guard l(pmu);
    first_fields = pushed_fields[0];
  }
  EXPECT_EQ(first_fields[EventType::openat].path,
            (std::set<StringMatch>{{"/etc/shadow", false}, {"/proc/sys/kernel/core_pattern", false}}));
  // The halves of one operation share the union of their conditions (with_partner_filters).
  EXPECT_EQ(first_fields[EventType::lsm_file_open].path, first_fields[EventType::openat].path);
  EXPECT_EQ(first_fields[EventType::openat2].path, first_fields[EventType::openat].path)
      << "a joining partner no rule names needs no record its partners' rules cannot use";

  auto pushes = [&] {
    std::lock_guard l(pmu);
    return pushed.size();
  };
  auto wait_pushes = [&](size_t n) { return wait_for([&] { return pushes() >= n; }, 10s); };
  (*m)->set_want_all(true);
  EXPECT_TRUE((*m)->host_wanted_types().all()) << "the host side follows at once";
  ASSERT_TRUE(wait_pushes(2)) << "the worker tells the guest";
  (*m)->set_want_all(false);
  ASSERT_TRUE(wait_pushes(3));
  (*m)->set_want_all(false);  // no change, nothing pushed (stop() below joins the worker)
  (*m)->stop();
  std::lock_guard l(pmu);
  ASSERT_EQ(pushed.size(), 3u);
  EXPECT_TRUE(pushed[1].all());
  EXPECT_TRUE(pushed_fields[1].empty()) << "a follower of raw events sees every path";
  EXPECT_EQ(pushed[2], first);
  EXPECT_EQ(pushed_fields[2], first_fields);
}

// A guest that never answers SetWantedTypes holds up no caller of set_want_all (kata-sentryd's
// registry calls it for every sandbox under its lock): the worker pushes, the call returns.
TEST(SandboxMonitor, AGuestThatNeverAnswersTheWantedTypesDoesNotHoldTheCaller) {
  FakeGuest g;
  Collected c;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  bool released = false;
  auto hooks = g.hooks();
  hooks.set_wanted_types = [&](const std::bitset<kEventTypeSlots>&, const FieldFilters&) -> Status {
    std::unique_lock l(mu);
    if (++calls == 1) return {};  // start()'s push answers
    cv.notify_all();
    cv.wait(l, [&] { return released; });
    return fail(ErrorCode::timeout, "guest SetWantedTypes: no answer");
  };
  auto m = SandboxMonitor::start(engine(policy::Mode::monitor), options(c), hooks, nullptr);
  ASSERT_TRUE(m) << m.error().describe();
  (*m)->set_want_all(true);
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 10s, [&] { return calls == 2; })) << "the worker pushes the wish";
  }
  (*m)->set_want_all(false);  // returns while the guest still holds the first push
  (*m)->set_want_all(true);
  EXPECT_TRUE((*m)->host_wanted_types().all());
  {
    std::lock_guard l(mu);
    released = true;
    cv.notify_all();
  }
  (*m)->stop();
  std::lock_guard l(mu);
  EXPECT_EQ(calls, 2) << "the failed wish (all) is not retried until it changes";
}

}  // namespace
}  // namespace kata_sentry::monitor
