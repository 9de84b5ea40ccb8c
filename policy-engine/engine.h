// The engine: evaluates events against a loaded rule set, keeps the per-key state of
// sequence rules, and decides actions. It needs no kernel: the runtime feeds it events
// and carries out the actions it decides.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "policy-engine/alert.h"
#include "policy-engine/rule.h"

namespace kata_sentry::policy {

enum class Mode : uint8_t {
  monitor,  // decide and report what would happen (enforced = false), change nothing
  enforce,  // actions other than alert are carried out by the runtime (enforced = true)
};

struct EngineConfig {
  Mode mode = Mode::monitor;
  size_t sequence_key_cap = 4096;          // per sequence; the oldest key is evicted beyond it
  Priority min_priority = Priority::debug; // alerts below this are dropped
  std::string hostname;                    // "" = this host's name
};

struct EngineStats {
  uint64_t events = 0;
  uint64_t rule_evaluations = 0;   // conditions evaluated (the cost the index saves)
  uint64_t alerts = 0;
  uint64_t sequence_evictions = 0; // sequence keys dropped because of the cap
  uint64_t sequence_keys = 0;      // keys currently tracked
};

// Not thread-safe: sequence state and counters are per engine. Run one engine per
// evaluating thread (sequences then see only that thread's events), or serialise calls.
class Engine {
 public:
  Engine(RuleSet rules, EngineConfig config);

  // Evaluates one event and appends its alerts (rules first, then completed sequences).
  // Never throws.
  void process(const Event& event, const Enrichment* extra, std::vector<Alert>& alerts) noexcept;
  void process(const Event& event, std::vector<Alert>& alerts) noexcept { process(event, nullptr, alerts); }

  const RuleSet& rules() const { return rules_; }
  EngineStats stats() const;
  Mode mode() const { return config_.mode; }
  // Enforcement specs of every enabled deny rule, for the in-kernel programs.
  std::vector<EnforcementSpec> enforcement_specs() const;

 private:
  struct Progress {
    size_t next_step = 0;
    uint64_t started_ns = 0;
    std::vector<Event> events;
    std::list<std::string>::iterator age;  // position in the eviction order
  };
  struct SequenceState {
    std::unordered_map<std::string, Progress> keys;
    std::list<std::string> order;  // oldest first
  };

  Alert make_alert(const OutputTemplate& out, const std::string& name, Priority p, const std::vector<std::string>& tags,
                   Action action, const EvalInput& in) const;
  void advance_sequences(const EvalInput& in, const std::vector<uint8_t>& matched, std::vector<Alert>& alerts);

  RuleSet rules_;
  EngineConfig config_;
  // What the per-event loop reads of a candidate rule, side by side: a Rule is hundreds of
  // bytes of strings, and most candidates are rejected after one look at the condition.
  struct Candidate {
    const Node* condition;
    uint32_t rule;  // index into rules_.rules
  };
  // By event type, then view (host 0, guest 1, as view_name reads Event::view).
  std::array<std::array<std::vector<Candidate>, 2>, kEventTypeSlots> rules_by_type_;
  std::array<std::vector<uint32_t>, kEventTypeSlots> sequences_by_type_;
  TypeSet watched_;  // types with a rule (either view) or a sequence: one bit test for the rest
  std::vector<SequenceState> seq_state_;
  std::vector<uint8_t> matched_;  // per rule, for the current event
  CheckMemo memo_;                // answers of shared checks, for the current event
  EngineStats stats_;
};

}  // namespace kata_sentry::policy
