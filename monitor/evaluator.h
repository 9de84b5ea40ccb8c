// One sandbox's policy engine and operation joiner: events in, the alerts of each operation
// out, grouped (monitor/operation_joiner.h). A completed sequence is its own group: it spans
// several events and is never folded into a rule's alert.
//
// Not thread-safe: the sandbox monitor's worker thread owns it. Never throws; an internal
// failure (allocation) is counted, and the alerts involved are still reported, unjoined.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/event.h"
#include "monitor/operation_joiner.h"
#include "policy-engine/engine.h"

namespace kata_sentry::monitor {

class Evaluator {
 public:
  using Clock = OperationJoiner::Clock;
  Evaluator(std::unique_ptr<policy::Engine> engine, JoinOptions join);

  // Runs the rules on one event and appends to `ready` what can be reported now: this
  // event's groups and earlier ones whose partner record came or whose hold ended.
  // guest_lsm_active: the guest says its BPF LSM runs, so its operations come in pairs.
  // `extra`: what the runtime knows of the event's container (may be null).
  void evaluate(const Event& event, const policy::Enrichment* extra, bool guest_lsm_active, Clock::time_point now,
                std::vector<AlertGroup>& ready) noexcept;
  // Appends the groups whose hold ended by `now` (all of them with Clock::time_point::max()).
  void expire(Clock::time_point now, std::vector<AlertGroup>& ready) noexcept;

  policy::Mode mode() const { return engine_->mode(); }
  std::vector<policy::EnforcementSpec> enforcement_specs() const { return engine_->enforcement_specs(); }
  uint64_t errors() const { return errors_.load(); }  // any thread

 private:
  std::unique_ptr<policy::Engine> engine_;
  OperationJoiner joiner_;
  std::vector<policy::Alert> scratch_;
  std::atomic<uint64_t> errors_{0};
};

}  // namespace kata_sentry::monitor
