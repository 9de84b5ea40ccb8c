#include "monitor/sandbox_monitor.h"

#include <algorithm>
#include <cstdio>

#include "core/logging.h"
#include "policy-engine/field_filters.h"
#include "policy-engine/wanted_types.h"

namespace kata_sentry::monitor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long the worker waits for input before it looks at the joiner's holds and the
// heartbeats anyway.
constexpr auto kWorkerTick = 100ms;

}  // namespace

SandboxMonitor::SandboxMonitor(std::unique_ptr<policy::Engine> engine, MonitorOptions options, SandboxHooks hooks,
                               exporters::AuditLog* log)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      mode_(engine->mode()),
      host_rules_types_(policy::types_needed(engine->rules(), policy::only_view(View::host))),
      guest_rules_types_(policy::types_needed(engine->rules(), policy::only_view(View::guest))),
      host_rules_fields_(policy::field_filters_needed(engine->rules(), policy::only_view(View::host))),
      guest_rules_fields_(policy::field_filters_needed(engine->rules(), policy::only_view(View::guest))),
      reporter_(options_.sandbox_id, options_.sandbox_name, log, ReporterCallbacks{options_.on_alert, options_.on_audit},
                options_.pod),
      alarm_(reporter_, options_.tamper_alert_interval),
      guard_(options_.guard, reporter_, alarm_),
      evaluator_(std::move(engine), options_.join),
      executor_(mode_, hooks_, reporter_, alarm_, options_.host_cgroups),
      inbox_(options_.inbox_events, options_.inbox_bytes),
      last_heartbeat_(Clock::now()) {
  guard_.set_known_containers(options_.container_ids);
  for (const auto& [id, info] : options_.container_info) container_info_[id] = std::make_shared<const policy::Enrichment>(info);
}

Result<std::unique_ptr<SandboxMonitor>> SandboxMonitor::start(std::unique_ptr<policy::Engine> engine, MonitorOptions options,
                                                              SandboxHooks hooks, exporters::AuditLog* log) {
  if (!engine) return fail(ErrorCode::invalid_argument, "sandbox monitor: no policy engine");
  std::unique_ptr<SandboxMonitor> m(new SandboxMonitor(std::move(engine), std::move(options), std::move(hooks), log));
  if (auto st = m->executor_.install(m->evaluator_.enforcement_specs()); !st) return std::unexpected(st.error());
  {
    // Before the first container starts (the shim waits for this start): its first events
    // are filtered already. A guest that cannot be told keeps building every type.
    bool want_all = m->options_.want_all_types;
    {
      std::lock_guard lock(m->wanted_mu_);
      m->want_all_ = want_all;
    }
    m->guest_want_all_ = want_all;
    if (auto st = m->push_guest_wanted_types(want_all); !st)
      logger("monitor")->warn("sandbox {}: guest keeps building every event type: {}", m->options_.sandbox_id,
                              st.error().describe());
  }
  m->worker_thread_ = std::thread([p = m.get()] { p->worker_loop(); });
  if (m->options_.guest_stream && m->hooks_.stream_events) {
    m->guest_thread_ = std::thread([p = m.get()] { p->guest_loop(); });
  } else {
    m->guest_done_ = true;
  }
  return m;
}

SandboxMonitor::~SandboxMonitor() { stop(); }

std::bitset<kEventTypeSlots> SandboxMonitor::host_wanted_types() const {
  std::lock_guard lock(wanted_mu_);
  return want_all_ ? std::bitset<kEventTypeSlots>().set() : host_rules_types_;
}

FieldFilters SandboxMonitor::host_field_filters() const {
  std::lock_guard lock(wanted_mu_);
  return want_all_ ? FieldFilters{} : host_rules_fields_;
}

void SandboxMonitor::set_want_all(bool want_all) {
  std::lock_guard lock(wanted_mu_);
  want_all_ = want_all;
}

void SandboxMonitor::push_wanted_types_if_changed() noexcept {
  bool wanted;
  {
    std::lock_guard lock(wanted_mu_);
    wanted = want_all_;
  }
  if (wanted == guest_want_all_ || (guest_push_failed_ && wanted == guest_push_failed_for_)) return;
  auto st = push_guest_wanted_types(wanted);
  if (st) {
    guest_want_all_ = wanted;
    guest_push_failed_ = false;
    return;
  }
  // The guest keeps its previous set; tried again when the wanted set changes once more.
  guest_push_failed_ = true;
  guest_push_failed_for_ = wanted;
  logger("monitor")->warn("sandbox {}: guest keeps building {} event types: {}", options_.sandbox_id,
                          guest_want_all_ ? "every" : "the rules'", st.error().describe());
}

Status SandboxMonitor::push_guest_wanted_types(bool want_all) {
  if (!options_.guest_stream || !hooks_.set_wanted_types) return {};
  std::bitset<kEventTypeSlots> types;
  FieldFilters fields;
  if (want_all) {
    types.set();
  } else {
    types = OperationJoiner::with_partners(guest_rules_types_);
    fields = OperationJoiner::with_partner_filters(guest_rules_types_, guest_rules_fields_);
  }
  Status st;
  try {
    st = hooks_.set_wanted_types(types, fields);
  } catch (...) {
    ++internal_errors_;
    return fail(ErrorCode::internal, "guest SetWantedTypes: unexpected exception");
  }
  if (st)
    logger("monitor")->info("sandbox {}: guest builds {} event types{}{}", options_.sandbox_id,
                            want_all ? std::string("all") : policy::describe_types(types), fields.empty() ? "" : "; only ",
                            describe_field_filters(fields));
  return st;
}

void SandboxMonitor::set_known_containers(const std::vector<std::string>& ids) { guard_.set_known_containers(ids); }

void SandboxMonitor::set_container_info(const std::string& id, policy::Enrichment info) {
  auto p = std::make_shared<const policy::Enrichment>(std::move(info));
  std::lock_guard lock(containers_mu_);
  container_info_[id] = std::move(p);
}

size_t SandboxMonitor::cost(const Event& e) {
  size_t n = sizeof(Item) + e.path.size() + e.path2.size() + e.proc.name.size() + e.proc.exepath.size() + e.container_id.size();
  for (const auto& a : e.proc.args) n += sizeof(std::string) + a.size();
  for (const auto& v : e.proc.env) n += sizeof(std::string) + v.size();
  n += e.proc.cwd.size();
  for (const auto& a : e.proc.ancestors) n += sizeof(Ancestor) + a.name.size() + a.exepath.size() + a.cmdline.size();
  return n + e.arg.size() * sizeof(uint64_t);
}

void SandboxMonitor::feed_host(Event ev) noexcept {
  try {
    tag_host(ev);
    size_t bytes = cost(ev);
    if (!inbox_.try_push(Item{Item::Kind::event, std::move(ev), false}, bytes)) ++host_queue_drops_;
  } catch (...) {
    ++host_queue_drops_;  // could not even queue it (allocation): counted as dropped
  }
}

void SandboxMonitor::inject(Event event) {
  if (event.view == View::guest) {
    reporter_.stamp(event);
    event.vmm_pid = 0;
    if (event.host_time_ns == 0) event.host_time_ns = wall_now_ns();
    size_t bytes = cost(event);
    inbox_.push_wait(Item{Item::Kind::event, std::move(event), guest_lsm_active_.load()}, bytes);
    return;
  }
  feed_host(std::move(event));
}

void SandboxMonitor::tag_host(Event& e) const {
  e.view = View::host;
  reporter_.stamp(e);
  if (e.host_time_ns == 0) e.host_time_ns = e.time_ns;
  // vmm.pid marks the VMM's own scope (QEMU and what it spawns); virtiofsd and other helpers
  // are in the sandbox but are not the VMM, and the rules tell them apart by this.
  auto is_helper = [&](uint32_t pid) {
    return std::find(options_.helper_tgids.begin(), options_.helper_tgids.end(), pid) != options_.helper_tgids.end();
  };
  bool helper = is_helper(e.proc.pid);
  for (const auto& a : e.proc.ancestors) helper = helper || is_helper(a.pid);
  e.vmm_pid = helper ? 0 : options_.vmm_pid;
}

// --- the guest stream --------------------------------------------------------------------

bool SandboxMonitor::on_guest_batch(std::string&& wire) noexcept {
  try {
    GuardedBatch batch = guard_.take(wire, wall_now_ns(), Clock::now());
    if (batch.accepted) {
      guest_lsm_active_ = batch.lsm_active;
      std::lock_guard lock(reported_mu_);
      guest_reported_ = batch.reported;
    }
    for (auto& ev : batch.events) {
      size_t bytes = cost(ev);
      // Waits for room: the worker is this sandbox's only consumer, and waiting here holds
      // the guest's stream back (its own queue drops and counts), never another sandbox.
      if (!inbox_.push_wait(Item{Item::Kind::event, std::move(ev), batch.lsm_active}, bytes)) return false;
    }
    if (batch.heartbeat && !inbox_.push_wait(Item{Item::Kind::heartbeat, Event{}, batch.lsm_active}, sizeof(Item))) return false;
  } catch (...) {
    ++internal_errors_;  // allocation failure on the guest path: the batch is lost, counted
  }
  return !stopping_.load();
}

void SandboxMonitor::guest_loop() noexcept {
  auto log = logger("monitor");
  bool warned = false;
  while (!stopping_.load()) {
    Status st;
    try {
      st = hooks_.stream_events([this](std::string&& wire) { return on_guest_batch(std::move(wire)); });
    } catch (...) {
      st = fail(ErrorCode::internal, "guest event stream: exception");
    }
    if (stopping_.load()) break;
    bool running = hooks_.vm_running ? hooks_.vm_running() : true;
    if (executor_.sandbox_killed() || !running) break;
    ++guest_stream_errors_;
    std::string why = st ? std::string("closed by the guest") : st.error().describe();
    // A stream that ends while the VM runs is the guest sensor going away: say so.
    try {
      guard_.stream_ended(why);
    } catch (...) {
      ++internal_errors_;  // the alarm could not be raised (allocation): counted
    }
    if (!warned) {
      log->warn("sandbox {}: guest event stream ended ({}); retrying", options_.sandbox_id, why);
      warned = true;
    }
    std::unique_lock lk(stop_mu_);
    stop_cv_.wait_for(lk, 1s, [this] { return stopping_.load(); });
  }
  guard_.tick(Clock::now(), true);  // a refused-input episode still open is summed up now
  std::lock_guard lock(hb_mu_);
  guest_done_ = true;
  hb_cv_.notify_all();
}

// --- the worker --------------------------------------------------------------------------

void SandboxMonitor::worker_loop() noexcept {
  std::vector<AlertGroup> ready;
  for (;;) {
    auto item = inbox_.pop_wait(kWorkerTick);
    auto now = Clock::now();
    ready.clear();
    if (item) {
      handle(*item);
    } else if (inbox_.closed()) {
      break;  // closed and drained
    }
    evaluator_.expire(now, ready);
    for (auto& g : ready) executor_.act_and_report(g);
    watch_heartbeats(now);
    push_wanted_types_if_changed();
  }
  // Nothing is left waiting for its partner record: report it now.
  ready.clear();
  evaluator_.expire(Clock::time_point::max(), ready);
  for (auto& g : ready) executor_.act_and_report(g);
}

void SandboxMonitor::handle(Item& item) noexcept {
  if (item.kind == Item::Kind::heartbeat) {
    std::lock_guard lock(hb_mu_);
    ++heartbeats_;
    last_heartbeat_ = Clock::now();
    silence_reported_ = false;
    heard_from_sensor_ = true;
    hb_cv_.notify_all();
    return;
  }
  if (item.event.view == View::host) ++host_records_;
  if (options_.on_event) {
    try {
      options_.on_event(item.event);
    } catch (...) {
      ++on_event_errors_;
    }
  }
  std::shared_ptr<const policy::Enrichment> extra;
  if (!item.event.container_id.empty()) {
    std::lock_guard lock(containers_mu_);
    if (auto it = container_info_.find(item.event.container_id); it != container_info_.end()) extra = it->second;
  }
  std::vector<AlertGroup> ready;
  evaluator_.evaluate(item.event, extra.get(), item.lsm_active, Clock::now(), ready);
  for (auto& g : ready) executor_.act_and_report(g);
}

void SandboxMonitor::watch_heartbeats(Clock::time_point now) noexcept {
  if (guest_done_.load() || executor_.sandbox_killed()) return;
  bool running = hooks_.vm_running ? hooks_.vm_running() : true;
  std::chrono::milliseconds silent{0};
  bool starting = false;
  {
    std::lock_guard lock(hb_mu_);
    if (!running) {
      last_heartbeat_ = now;  // a stopped VM sends nothing; not silence
      return;
    }
    if (silence_reported_) return;
    silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_heartbeat_);
    starting = !heard_from_sensor_;
    if (silent < (starting ? options_.sensor_start_timeout : options_.heartbeat_timeout)) return;
    silence_reported_ = true;  // re-armed by the next heartbeat: one alert per silence
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", silent.count() / 1000.0);
  alarm_.raise(starting ? std::string("the guest sensor sent no heartbeat in its first ") + buf + " s while the VM runs"
                        : std::string("no heartbeat for ") + buf + " s while the VM runs");
}

bool SandboxMonitor::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(hb_mu_);
  uint64_t target = heartbeats_ + 2;
  return hb_cv_.wait_for(lk, timeout, [&] { return heartbeats_ >= target || guest_done_.load(); }) && !guest_done_.load();
}

void SandboxMonitor::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (guest_thread_.joinable()) {
    // on_guest_batch returns false at the next batch; heartbeats come every 250 ms.
    std::unique_lock lk(hb_mu_);
    bool ended = hb_cv_.wait_for(lk, 2500ms, [this] { return guest_done_.load(); });
    lk.unlock();
    if (!ended) {
      logger("monitor")->warn("sandbox {}: guest event stream did not end; aborting it", options_.sandbox_id);
      if (hooks_.abort_guest_stream) hooks_.abort_guest_stream();
      inbox_.close();  // a reader waiting for room gives up
    }
    guest_thread_.join();
  }
  inbox_.close();
  if (worker_thread_.joinable()) worker_thread_.join();
  executor_.stop();
}

MonitorStats SandboxMonitor::stats() const {
  MonitorStats s;
  s.host_records = host_records_.load();
  s.host_queue_drops = host_queue_drops_.load();
  s.guest = guard_.stats();
  s.guest_stream_errors = guest_stream_errors_.load();
  s.tamper_alerts = alarm_.raised();
  s.tamper_alerts_suppressed = alarm_.suppressed();
  s.alerts = reporter_.alerts();
  s.report_errors = reporter_.errors() + on_event_errors_.load();
  s.log_errors = reporter_.log_errors();
  s.internal_errors = evaluator_.errors() + internal_errors_.load();
  s.actions = executor_.stats();
  {
    std::lock_guard lock(reported_mu_);
    s.guest_reported = guest_reported_;
  }
  {
    std::lock_guard lock(hb_mu_);
    if (heartbeats_ > 0) s.heartbeat_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_heartbeat_).count();
  }
  return s;
}

std::string describe(const MonitorStats& s) {
  const auto& g = s.guest;
  std::string refused;
  for (size_t i = 0; i < g.batches_refused.size(); ++i)
    if (g.batches_refused[i]) refused += ", " + std::to_string(g.batches_refused[i]) + " " + std::string(guest_drop_reason_name(static_cast<GuestDropReason>(i)));
  std::string out = std::to_string(s.alerts) + " alert(s); host " + std::to_string(s.host_records) + " event(s), " +
                    std::to_string(s.host_queue_drops) + " dropped (inbox full); guest " + std::to_string(g.events) + " event(s) in " +
                    std::to_string(g.batches) + " batch(es), " + std::to_string(g.heartbeats) + " heartbeat(s), " +
                    std::to_string(g.rate_limited) + " rate-limited, " + std::to_string(g.seq_missing) + " missing by seq, " +
                    std::to_string(g.batches_replayed) + " replayed batch(es)" + refused + ", " + std::to_string(g.unknown_container) +
                    " naming an unknown container; guest-reported drops " + std::to_string(s.guest_reported.ringbuf_drops) +
                    " ring-buffer, " + std::to_string(s.guest_reported.rate_limited) + " rate-limited, " +
                    std::to_string(s.guest_reported.queue_drops) + " queue; actions " + std::to_string(s.actions.actions_ok) + " ok, " +
                    std::to_string(s.actions.actions_failed) + " failed; host deny " + (s.actions.host_deny_attached ? "attached" : "off") +
                    " (" + std::to_string(s.actions.host_refusals) + " refusal(s), " + std::to_string(s.actions.host_refusal_drops) +
                    " record(s) lost)";
  if (s.log_errors) out += "; " + std::to_string(s.log_errors) + " record(s) the audit log refused";
  if (s.report_errors || s.internal_errors)
    out += "; " + std::to_string(s.report_errors) + " report error(s), " + std::to_string(s.internal_errors) + " internal error(s)";
  return out;
}

}  // namespace kata_sentry::monitor
