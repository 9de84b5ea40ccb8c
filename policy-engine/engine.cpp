#include "policy-engine/engine.h"

#include <unistd.h>

namespace kata_sentry::policy {
namespace {

// The clock cross-view correlation runs on: the host's receive time when the runtime set it
// (always, for events that reach a monitor), else the event's own time (replay, tests).
uint64_t order_time_ns(const Event& e) { return e.host_time_ns != 0 ? e.host_time_ns : e.time_ns; }

}  // namespace

Engine::Engine(RuleSet rules, EngineConfig config) : rules_(std::move(rules)), config_(std::move(config)) {
  if (config_.hostname.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) == 0) config_.hostname = buf;
  }
  for (uint32_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    if (!r.node) continue;
    bool used_by_sequence = false;
    for (const auto& s : rules_.sequences)
      for (const auto& st : s.steps) used_by_sequence |= st.rule_index == static_cast<int>(i);
    if (!r.enabled && !used_by_sequence) continue;
    for (size_t t = 0; t < rules_by_type_.size(); ++t)
      for (size_t v = 0; v < 2; ++v)
        if (r.types.test(t) && r.views.test(v)) rules_by_type_[t][v].push_back({r.node.get(), i});
  }
  for (uint32_t i = 0; i < rules_.sequences.size(); ++i) {
    if (!rules_.sequences[i].enabled) continue;
    for (size_t t = 0; t < sequences_by_type_.size(); ++t)
      if (rules_.sequences[i].types.test(t)) sequences_by_type_[t].push_back(i);
  }
  for (size_t t = 0; t < rules_by_type_.size(); ++t)
    watched_.set(t, !rules_by_type_[t][0].empty() || !rules_by_type_[t][1].empty() || !sequences_by_type_[t].empty());
  seq_state_.resize(rules_.sequences.size());
  memo_.resize(rules_.shared_check_slots);
  matched_.assign(rules_.rules.size(), 0);
}

Alert Engine::make_alert(const OutputTemplate& out, const std::string& name, Priority p,
                         const std::vector<std::string>& tags, Action action, const EvalInput& in) const {
  Alert a;
  a.time_ns = in.event->time_ns;
  a.host_time_ns = in.event->host_time_ns;
  a.rule = name;
  a.priority = p;
  a.output = out.render(in);
  a.output_fields = out.fields(in);
  a.tags = tags;
  a.hostname = config_.hostname;
  a.sandbox = in.event->sandbox_id;
  a.view = in.event->view;
  a.action = action;
  a.enforced = config_.mode == Mode::enforce && action != Action::alert;
  return a;
}

void Engine::process(const Event& event, const Enrichment* extra, std::vector<Alert>& alerts) noexcept {
  ++stats_.events;
  auto t = static_cast<size_t>(event.type);
  if (t >= rules_by_type_.size() || !watched_.test(t)) return;  // most types no rule watches
  const auto& candidates = rules_by_type_[t][event.view == View::guest ? 1 : 0];
  bool any_sequence = !sequences_by_type_[t].empty();
  memo_.next_event();
  EvalInput in{&event, extra, &memo_};
  stats_.rule_evaluations += candidates.size();
  for (const Candidate& c : candidates) {
    if (!c.condition->eval(in)) continue;
    const uint32_t i = c.rule;
    const Rule& r = rules_.rules[i];
    if (any_sequence) matched_[i] = 1;
    if (!r.enabled || r.priority > config_.min_priority) continue;
    Alert a = make_alert(r.output, r.name, r.priority, r.tags, r.action, in);
    a.events.push_back(event);
    alerts.push_back(std::move(a));
    ++stats_.alerts;
  }
  if (any_sequence) {
    advance_sequences(in, matched_, alerts);
    for (const Candidate& c : candidates) matched_[c.rule] = 0;
  }
}

void Engine::advance_sequences(const EvalInput& in, const std::vector<uint8_t>& matched, std::vector<Alert>& alerts) {
  const Event& e = *in.event;
  for (uint32_t si : sequences_by_type_[static_cast<size_t>(e.type)]) {
    const Sequence& s = rules_.sequences[si];
    SequenceState& state = seq_state_[si];
    auto step_matches = [&](size_t k) {
      const SequenceStep& st = s.steps[k];
      if (!st.types.test(static_cast<size_t>(e.type))) return false;
      if (st.rule_index >= 0) return matched[st.rule_index] != 0;
      ++stats_.rule_evaluations;
      return st.condition->eval(in);
    };
    // Most events match no step: find out before paying for the key.
    uint64_t step_hits = 0;
    for (size_t k = 0; k < s.steps.size() && k < 64; ++k)
      if (step_matches(k)) step_hits |= uint64_t{1} << k;
    if (step_hits == 0) continue;
    // The key: the `by` fields' values; an event lacking one cannot join a sequence.
    std::string key;
    bool complete_key = true;
    for (const auto& f : s.by) {
      auto v = field_text(f, in);
      if (!v) {
        complete_key = false;
        break;
      }
      key += *v;
      key += '\x1f';
    }
    if (!complete_key) continue;
    auto it = state.keys.find(key);
    // Steps come from both views, and a guest's clock is the guest's to set: the window is
    // measured on the host's receive clock. Signed, so that an event that arrives with an
    // older host time than the sequence's start (two host threads racing) counts as inside.
    const uint64_t at = order_time_ns(e);
    if (it != state.keys.end() && static_cast<int64_t>(at - it->second.started_ns) > static_cast<int64_t>(s.within_ns)) {
      state.order.erase(it->second.age);
      state.keys.erase(it);
      it = state.keys.end();
    }
    if (it == state.keys.end()) {
      if (!(step_hits & 1)) continue;
      if (state.keys.size() >= config_.sequence_key_cap && !state.order.empty()) {
        state.keys.erase(state.order.front());
        state.order.pop_front();
        ++stats_.sequence_evictions;
      }
      state.order.push_back(key);
      Progress p;
      p.next_step = 1;
      p.started_ns = at;
      p.events.push_back(e);
      p.age = std::prev(state.order.end());
      state.keys.emplace(key, std::move(p));
      continue;
    }
    Progress& p = it->second;
    if (p.next_step >= 64 || !(step_hits & (uint64_t{1} << p.next_step))) continue;
    p.events.push_back(e);
    if (++p.next_step < s.steps.size()) continue;
    Alert a = make_alert(s.output, s.name, s.priority, s.tags, s.action, in);
    a.is_sequence = true;
    a.events = std::move(p.events);
    state.order.erase(p.age);
    state.keys.erase(it);
    if (s.priority <= config_.min_priority) {
      alerts.push_back(std::move(a));
      ++stats_.alerts;
    }
  }
}

EngineStats Engine::stats() const {
  EngineStats s = stats_;
  s.sequence_keys = 0;
  for (const auto& st : seq_state_) s.sequence_keys += st.keys.size();
  return s;
}

std::vector<EnforcementSpec> Engine::enforcement_specs() const {
  std::vector<EnforcementSpec> out;
  for (const auto& r : rules_.rules)
    if (r.enabled) out.insert(out.end(), r.enforcement.begin(), r.enforcement.end());
  return out;
}

}  // namespace kata_sentry::policy
