#include "monitor/evaluator.h"

#include <linux/types.h>

#include <algorithm>

#include "kata_sentry/event_abi.h"

namespace kata_sentry::monitor {

Evaluator::Evaluator(std::unique_ptr<policy::Engine> engine, JoinOptions join) : engine_(std::move(engine)), joiner_(join) {}

void Evaluator::evaluate(const Event& event, const policy::Enrichment* extra, bool guest_lsm_active, Clock::time_point now,
                         std::vector<AlertGroup>& ready) noexcept {
  expire(now, ready);
  try {
    scratch_.clear();
    engine_->process(event, extra, scratch_);
    auto sequences = std::stable_partition(scratch_.begin(), scratch_.end(), [](const policy::Alert& a) { return !a.is_sequence; });
    for (auto it = sequences; it != scratch_.end(); ++it) ready.push_back(AlertGroup{{std::move(*it)}, false});
    scratch_.erase(sequences, scratch_.end());
    std::vector<policy::Alert> alerts = std::move(scratch_);
    scratch_.clear();
    try {
      joiner_.add(event, std::move(alerts), guest_lsm_active, now, ready);
    } catch (...) {
      // Joining failed (allocation): report what the event matched on its own, unjoined.
      ++errors_;
      for (auto& a : alerts)
        ready.push_back(AlertGroup{{std::move(a)}, (event.flags & KS_F_DENIED) != 0, is_lsm_type(event.type) ? event.type : EventType::none});
    }
  } catch (...) {
    ++errors_;  // the event's own evaluation failed: nothing of it can be reported
  }
}

void Evaluator::expire(Clock::time_point now, std::vector<AlertGroup>& ready) noexcept {
  try {
    joiner_.expire(now, ready);
  } catch (...) {
    ++errors_;
  }
}

}  // namespace kata_sentry::monitor
