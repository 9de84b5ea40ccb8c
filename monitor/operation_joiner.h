// One guest operation, one alert.
//
// The guest reports an operation that a BPF LSM hook covers twice: the LSM record (written
// inside the syscall, carrying the in-kernel decision: KS_F_DENIED) and the syscall record
// (written at sys_exit, carrying the result). Both go through the rules, so one
// `echo > core_pattern` used to raise one alert per record, and the syscall record's alert
// said enforced:false although the LSM had refused the open.
//
// Why here and not in the rules or the engine: the rules must keep matching both records
// (without BPF LSM only the syscall record exists; Falco's rules match only syscall records),
// and the engine is view-agnostic and stateless per event. The monitor knows which records
// of one guest thread belong together, so it joins them:
//
//   * records of one operation: same guest tid, same operation class (openat <-> file_open,
//     execve <-> bprm_check, ...), the LSM record's time within [syscall enter, + window].
//     A thread runs one syscall at a time, so for a syscall record the earliest later LSM
//     record is its own, and for an LSM record the latest earlier syscall record is.
//   * the first record of an operation waits (at most `hold`) for the other, because the two
//     come from different ring buffers and may arrive in either order;
//   * then the operation's alerts are released as one group: a rule matched by both records
//     counts once (the LSM record's alert wins: it carries the decision), and `denied` says
//     whether the LSM refused the operation. The monitor acts on each rule of the group (one
//     audit record per deny rule) and writes one alert for the group (merge()).
//   * except in the common case, which must not wait: an LSM record that comes first is
//     released at once when nothing in its alerts needs the syscall record, i.e. every rule
//     only alerts, or the LSM itself refused the operation. The LSM record comes from inside
//     the syscall; the syscall record only at its exit, after the file system's own work (a
//     virtio-fs open is a round trip to the host). The rules it reported are remembered until
//     the syscall record comes (or `hold` passes), and only that record's other rules (those
//     on the result, such as Falco's `fd.num >= 0`) are reported then, as a second group.
//
// Each ring buffer is read in order, so records of one kind arrive in order; the pairing
// relies on that. Known limit: an LSM record that arrives before its syscall record while an
// earlier syscall record of the same thread and class (one that failed before the hook) still
// waits is paired with that one; no alert is lost, one is reported on its own.
//
// Joining only happens while the guest reports BPF LSM active: without it no LSM record comes
// and waiting would only add latency. The cost: an alert whose partner record never comes (an
// open that failed before the LSM hook, or a guest whose tracepoints did not load) is reported
// `hold` late. Not thread-safe: the monitor calls it under its lock.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event.h"
#include "core/field_filters.h"
#include "policy-engine/alert.h"

namespace kata_sentry::monitor {

struct JoinOptions {
  std::chrono::nanoseconds window{std::chrono::seconds(1)};  // LSM time - syscall enter time
  std::chrono::milliseconds hold{200};  // how long the first record waits for the other
  size_t max_waiting = 8192;            // records remembered; beyond it the oldest is released
};

// The alerts of one operation, ready to act on and report.
struct AlertGroup {
  std::vector<policy::Alert> alerts;  // one per rule
  bool denied = false;                // the guest LSM refused the operation
  EventType hook = EventType::none;   // the LSM hook's record of the operation (lsm_file_open, ...), if any
};

class OperationJoiner {
 public:
  using Clock = std::chrono::steady_clock;
  explicit OperationJoiner(JoinOptions options = {}) : options_(options) {}

  // Whether `event` is one half of a joinable guest operation.
  static bool joinable(const Event& event);
  // `types` plus the other half of every joinable operation among them (openat -> file_open
  // and back): with one half filtered in the guest, the other would wait `hold` for nothing.
  static std::bitset<kEventTypeSlots> with_partners(std::bitset<kEventTypeSlots> types);
  // The same for the path and comm filters of `types` (the rules' own types): every type of a
  // joinable operation gets the union of its operation's conditions, so a record one half's
  // rules may alert on is never dropped in the kernel for the other half's narrower condition.
  static FieldFilters with_partner_filters(const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields);

  // Takes an event's alerts (possibly none) and appends the groups ready now to `out`.
  void add(const Event& event, std::vector<policy::Alert>&& alerts, bool lsm_active, Clock::time_point now,
           std::vector<AlertGroup>& out);
  // Releases the groups whose wait is over (or all with drain()).
  void expire(Clock::time_point now, std::vector<AlertGroup>& out);
  void drain(std::vector<AlertGroup>& out) { expire(Clock::time_point::max(), out); }
  size_t waiting() const { return waiting_; }

  // One alert for a group: the most severe rule (then a deny/kill rule, then the LSM record's
  // alert) names it; the other rules go to also_matched; enforced if any part was.
  static policy::Alert merge(std::vector<policy::Alert>&& alerts);

 private:
  struct Half {
    uint64_t id = 0;
    uint64_t ts_ns = 0;
    bool lsm = false;
    bool denied = false;
    EventType type = EventType::none;
    Clock::time_point deadline;
    std::vector<policy::Alert> alerts;
    std::vector<std::string> reported;
  };
  struct Expiry {
    Clock::time_point deadline;
    uint64_t key = 0;
    uint64_t id = 0;
  };

  void release(Half&& half, std::vector<AlertGroup>& out);

  JoinOptions options_;
  std::unordered_map<uint64_t, std::deque<Half>> by_op_;  // (tid, class) -> records waiting
  std::deque<Expiry> expiry_;                              // arrival order = deadline order
  uint64_t next_id_ = 0;
  size_t waiting_ = 0;
};

}  // namespace kata_sentry::monitor
