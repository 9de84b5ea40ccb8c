// Checks that several rules share are decided once per event. Falco's rules and ours repeat
// the same few checks in most rules of an event type (view = guest, container.id != host,
// fd.typechar = f, evt.is_open_read = true, proc.name in (server binaries)): an open is a
// candidate for ~17 rules, which asked `view = guest` a dozen times.
//
// When a rule set has loaded, SharedChecks gives every check that occurs twice or more (same
// field, operator and literals) a slot; the engine keeps one CheckMemo and starts a new
// generation per event, so a slot answers only for the event that filled it. Checks are
// pure functions of the event and its enrichment, so a remembered answer is the answer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace kata_sentry::policy {

constexpr uint32_t kNoMemoSlot = UINT32_MAX;

// Per evaluating engine (not thread-safe, like the engine). Each entry is the generation
// that filled it, shifted, with the answer in the low bit.
class CheckMemo {
 public:
  // Generations run below this; then every entry is cleared and counting restarts at 1.
  static constexpr uint32_t kGenerationLimit = uint32_t{1} << 31;

  CheckMemo() = default;
  explicit CheckMemo(uint32_t first_generation) : generation_(first_generation) {}  // tests start near the limit
  void resize(uint32_t slots) { entries_.assign(slots, 0); }
  // Forgets every answer: call before evaluating each event.
  void next_event() noexcept {
    if (++generation_ >= kGenerationLimit) {  // wrapping: an old entry could look current
      std::fill(entries_.begin(), entries_.end(), 0);
      generation_ = 1;
    }
  }
  // `compute` decides the check; its answer is kept for the rest of this event.
  template <typename F>
  bool get(uint32_t slot, F&& compute) noexcept {
    if (slot >= entries_.size()) return compute();
    uint32_t& e = entries_[slot];
    if ((e >> 1) == generation_) return e & 1;
    bool r = compute();
    e = (generation_ << 1) | static_cast<uint32_t>(r);
    return r;
  }

 private:
  std::vector<uint32_t> entries_;
  uint32_t generation_ = 1;
};

// Load-time: which compiled checks are twins. `add` is called for each check as it is
// compiled, with where that node keeps its slot; `assign` then gives each key added twice or
// more a slot and writes it into its nodes. Only the loader calls `assign`, once the whole
// rule set compiled without error: then every registered node is alive, owned by the set
// (a failed load drops nodes, and nothing is written).
class SharedChecks {
 public:
  void add(const std::string& key, uint32_t* slot) { by_key_[key].push_back(slot); }
  // Returns the number of slots (the CheckMemo size the rule set needs).
  uint32_t assign() {
    uint32_t count = 0;
    for (auto& [key, slots] : by_key_) {
      if (slots.size() < 2) continue;
      for (uint32_t* s : slots) *s = count;
      ++count;
    }
    by_key_.clear();
    return count;
  }

 private:
  std::unordered_map<std::string, std::vector<uint32_t*>> by_key_;
};

}  // namespace kata_sentry::policy
