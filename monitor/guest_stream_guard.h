// The host's gate for one sandbox's guest event stream. Everything a guest sends is hostile
// input; the guard decides what of it reaches the policy engine, and says what it refused:
//
//   * size and shape first: each batch arrives as wire bytes and is decoded within limits
//     (proto/guest_wire.h); a refused batch is dropped and counted by reason, and the stream
//     carries on with the next one;
//   * order: batches are numbered; a gap counts the missing events, a batch that goes back
//     (a replay) is dropped; both raise the tamper alarm;
//   * volume: a token bucket per sandbox, so a flooding guest cannot monopolise the engine;
//   * identity: the sandbox id and name are the host's; a container id the host never
//     registered for this sandbox is replaced by "unknown" (counted, alarmed once);
//   * time: every accepted event gets the host's receive time beside the guest's own.
//
// Refused input is audited once per episode (the first drop, then a summary when the guest
// has been quiet for `episode_quiet`), never once per message: a million bad messages make
// two audit records and a counter.
//
// Not thread-safe except set_known_containers(): one thread (the monitor's guest-stream
// reader) feeds it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/guest_batch.h"
#include "guest_wire.h"
#include "monitor/reporter.h"

namespace kata_sentry::monitor {

inline constexpr std::string_view kTamperRule = "Guest sensor silent or tampered";
inline constexpr std::string_view kUnknownContainer = "unknown";

// The tamper alert ("Guest sensor silent or tampered"), at most one per interval. Raised by
// the guard and by the monitor's heartbeat watchdog; thread-safe.
class TamperAlarm {
 public:
  TamperAlarm(Reporter& reporter, std::chrono::milliseconds interval) : reporter_(reporter), interval_(interval) {}
  void raise(const std::string& reason) noexcept;
  // After kill_sandbox the guest going quiet is expected: nothing more is raised.
  void silence() noexcept;
  uint64_t raised() const;
  uint64_t suppressed() const;

 private:
  Reporter& reporter_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  bool silenced_ = false;
  bool ever_ = false;
  std::chrono::steady_clock::time_point last_{};
  uint64_t raised_ = 0;
  uint64_t suppressed_ = 0;
};

struct GuardOptions {
  double events_per_s = 20000;  // sustained guest events per second into the engine
  double burst = 40000;
  GuestBatchLimits limits;
  std::chrono::milliseconds episode_quiet{10000};  // a drop episode ends after this long without a drop
};

struct GuardStats {
  uint64_t batches = 0;          // received, accepted or not
  uint64_t heartbeats = 0;
  uint64_t events = 0;           // accepted into the engine
  uint64_t bytes = 0;            // wire bytes received
  std::array<uint64_t, kGuestDropReasons> batches_refused{};  // by GuestDropReason
  uint64_t batches_replayed = 0; // went back in the numbering: dropped whole
  uint64_t events_replayed = 0;
  uint64_t rate_limited = 0;     // events dropped by the token bucket
  uint64_t seq_missing = 0;      // events missing according to the numbering
  uint64_t unknown_container = 0;  // events naming a container the host never registered
  uint64_t drop_episodes = 0;    // audited episodes of refused input
  uint64_t batches_dropped() const;
};

// What the guard let through from one batch.
struct GuardedBatch {
  std::vector<Event> events;     // tagged, in order
  bool heartbeat = false;
  bool accepted = false;         // false: the batch was refused (counted, audited)
  bool lsm_active = false;       // as the guest reports it: LSM records are to be expected
  GuestSensorStats reported;     // the guest's own counters (untrusted, informative)
};

class GuestStreamGuard {
 public:
  GuestStreamGuard(GuardOptions options, Reporter& reporter, TamperAlarm& alarm);

  // One batch as received (wire bytes) at host wall time `received_ns`.
  GuardedBatch take(std::string_view wire, uint64_t received_ns, std::chrono::steady_clock::time_point now);
  // The stream ended (the guest's sensor went away, or the relay re-opened it): the next
  // batch starts a new numbering. `why` is alarmed.
  void stream_ended(const std::string& why);
  // Closes a drop episode whose quiet period has passed (take() calls it for every batch,
  // and the guest's heartbeats come every 250 ms) or, with force, at stop.
  void tick(std::chrono::steady_clock::time_point now, bool force = false);

  // The containers the host registered for this sandbox (ids are remembered after removal:
  // the guest may still report a removed container's last events). Thread-safe.
  void set_known_containers(const std::vector<std::string>& ids);
  GuardStats stats() const;

 private:
  void tag(Event& event, uint64_t received_ns);
  bool take_token(std::chrono::steady_clock::time_point now);
  void dropped(std::string_view reason, const std::string& detail, uint64_t events, std::chrono::steady_clock::time_point now);
  void close_episode();

  const GuardOptions options_;
  Reporter& reporter_;
  TamperAlarm& alarm_;
  mutable std::mutex stats_mu_;  // stats_ is read by other threads
  GuardStats stats_;
  bool seq_known_ = false;
  uint64_t next_seq_ = 0;
  double tokens_;
  std::chrono::steady_clock::time_point refill_at_;

  // The current episode of refused input.
  bool in_episode_ = false;
  std::chrono::steady_clock::time_point last_drop_{};
  uint64_t episode_batches_ = 0, episode_events_ = 0;
  std::string episode_reasons_;

  mutable std::mutex containers_mu_;
  std::set<std::string> known_containers_;
  std::set<std::string> unknown_seen_;  // alarmed once each (bounded)
};

}  // namespace kata_sentry::monitor
