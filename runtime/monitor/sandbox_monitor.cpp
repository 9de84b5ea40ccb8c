#include "runtime/monitor/sandbox_monitor.h"

#include <linux/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "core/event_decode.h"
#include "core/logging.h"
#include "host-probes/host_deny.h"
#include "host-probes/host_probes.h"
#include "host-probes/proc_table.h"
#include "kata_sentry/event_abi.h"
#include "runtime/agent_client/deny_rule_spec.h"
#include "runtime/monitor/host_deny_rules.h"
#include "runtime/sandbox/sandbox.h"

namespace kata_sentry::monitor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t wall_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Kills a host process through a pidfd, so that a pid reused between the event and the kill
// cannot make us signal an unrelated process... as far as the open itself allows: the pidfd
// pins the process that holds the pid at open time.
Status kill_host_pid(uint32_t pid, int sig) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) return fail_errno("pidfd_open " + std::to_string(pid));
  long r = ::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  int saved = errno;
  ::close(fd);
  if (r != 0) {
    errno = saved;
    return fail_errno("pidfd_send_signal " + std::to_string(pid));
  }
  return {};
}

std::string describe_event(const Event& e) {
  std::string s(event_type_name(e.type));
  if (!e.path.empty()) s += " " + e.path;
  if (!e.addr.ip.empty()) s += " " + (e.addr.family == AF_INET6 ? "[" + e.addr.ip + "]" : e.addr.ip) + ":" +
                              std::to_string(e.addr.port);
  s += " (" + std::string(view_name(e.view)) + " pid " + std::to_string(e.proc.pid);
  if (!e.proc.name.empty()) s += " " + e.proc.name;
  if (!e.container_id.empty()) s += ", container " + e.container_id;
  if (e.has_res) s += ", res " + std::to_string(e.res);
  return s + ")";
}

}  // namespace

SandboxHooks hooks_for(runtime::Sandbox& sandbox) {
  SandboxHooks h;
  runtime::Sandbox* sb = &sandbox;
  h.stream_events = [sb](const std::function<bool(runtime::GuestEventBatch&&)>& fn) { return sb->agent().stream_events(fn); };
  h.set_enforcement = [sb](const std::vector<DenyRule>& rules) { return sb->agent().set_enforcement(rules); };
  h.kill_guest_process = [sb](uint32_t pid, int sig) { return sb->agent().kill_guest_process(pid, sig); };
  h.stop_vm = [sb]() { return sb->vm().qmp().quit(); };
  h.vm_running = [sb]() { return sb->vm().qemu_running(); };
  h.abort_guest_stream = [sb]() { sb->vm().kill_qemu(); };
  return h;
}

SandboxMonitor::SandboxMonitor(std::unique_ptr<policy::Engine> engine, MonitorOptions options, SandboxHooks hooks,
                               AlertWriter* writer)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      writer_(writer),
      engine_(std::move(engine)),
      joiner_(options_.join) {}

Result<std::unique_ptr<SandboxMonitor>> SandboxMonitor::start(std::unique_ptr<policy::Engine> engine, MonitorOptions options,
                                                              SandboxHooks hooks, AlertWriter* writer) {
  if (!engine) return fail(ErrorCode::invalid_argument, "sandbox monitor: no policy engine");
  std::unique_ptr<SandboxMonitor> m(new SandboxMonitor(std::move(engine), std::move(options), std::move(hooks), writer));
  auto log = logger("runtime");
  if (m->options_.host_probes) {
    probes::HostProbesOptions po;
    po.scope_enabled = true;  // only this sandbox's processes, decided in the kernel
    po.follow_children = true;
    po.watch_tgids = m->options_.host_tgids;
    for (uint32_t t : m->options_.helper_tgids) po.watch_tgids.push_back(t);
    for (const auto& dir : m->options_.host_cgroups) {
      auto id = probes::HostProbes::cgroup_id_of(dir);
      if (!id) return std::unexpected(id.error());
      po.watch_cgroups.push_back(*id);
    }
    // Latency over CPU: a sandbox scope is quiet, so wake on every record.
    po.wakeup_bytes = 0;
    po.ring_buffer_bytes = 4u << 20;
    if (auto tf = probes::ensure_tracefs(); !tf) return std::unexpected(tf.error());
    auto opened = probes::HostProbes::open(po);
    if (!opened) return std::unexpected(opened.error());
    m->probes_ = std::move(*opened);
    m->proc_table_ = std::make_unique<probes::ProcTable>(4096);
    log->info("sandbox {}: host probes scoped to {} tgid(s), {} cgroup(s): {}", m->options_.sandbox_id,
              po.watch_tgids.size(), po.watch_cgroups.size(), m->probes_->backend_report());
  }
  m->push_enforcement();
  m->push_host_enforcement();
  m->tokens_ = m->options_.guest_burst;
  m->refill_at_ = Clock::now();
  m->last_heartbeat_ = Clock::now();
  if (m->probes_) m->host_thread_ = std::thread([p = m.get()] { p->host_loop(); });
  if (m->host_deny_) m->host_deny_thread_ = std::thread([p = m.get()] { p->host_deny_loop(); });
  if (m->options_.guest_stream && m->hooks_.stream_events) {
    m->guest_thread_ = std::thread([p = m.get()] { p->guest_loop(); });
    m->watchdog_thread_ = std::thread([p = m.get()] { p->watchdog_loop(); });
  }
  return m;
}

SandboxMonitor::~SandboxMonitor() { stop(); }

void SandboxMonitor::push_enforcement() {
  std::lock_guard lock(mu_);
  if (engine_->mode() != policy::Mode::enforce) return;  // monitor mode changes nothing in the guest
  std::vector<std::string> not_for_guest;
  auto specs = runtime::guest_deny_rules(engine_->enforcement_specs(), options_.sandbox_id, &not_for_guest);
  AuditRecord rec;
  rec.time_ns = wall_now_ns();
  rec.sandbox_id = options_.sandbox_id;
  rec.sandbox_name = options_.sandbox_name;
  rec.view = View::guest;
  rec.action = policy::Action::deny;
  if (!hooks_.set_enforcement) {
    rec.ok = false;
    rec.detail = "guest LSM deny set not pushed: the sandbox has no agent to push it to";
    audit_locked(std::move(rec));
    return;
  }
  auto res = hooks_.set_enforcement(specs);
  if (res) res->insert(res->end(), not_for_guest.begin(), not_for_guest.end());
  if (!res) {
    rec.ok = false;
    rec.detail = "pushing " + std::to_string(specs.size()) + " deny rule(s) to the guest LSM failed: " + res.error().describe();
    ++stats_.actions_failed;
    audit_locked(std::move(rec));
    return;
  }
  for (const auto& s : specs) {
    bool refused = std::any_of(res->begin(), res->end(), [&](const std::string& r) { return r.rfind(s.name + ":", 0) == 0; });
    if (!refused) deny_rules_in_guest_.push_back(s.name);
  }
  stats_.deny_installed = deny_rules_in_guest_;
  stats_.deny_refused = *res;
  std::string detail = "installed " + std::to_string(deny_rules_in_guest_.size()) + " deny rule(s) in the guest LSM";
  for (size_t i = 0; i < deny_rules_in_guest_.size(); ++i) detail += (i ? ", " : ": ") + deny_rules_in_guest_[i];
  if (!res->empty()) {
    detail += "; refused by the guest:";
    for (const auto& r : *res) detail += " [" + r + "]";
  }
  rec.ok = res->empty();
  rec.detail = std::move(detail);
  ++(rec.ok ? stats_.actions_ok : stats_.actions_failed);
  audit_locked(std::move(rec));
}

// Host side of enforce mode: the host-view deny rules compiled for the cgroup programs and
// attached to the sandbox's host cgroup. Whatever cannot be done is audited as not enforced:
// an unavailable hook never turns into a claimed block.
void SandboxMonitor::push_host_enforcement() {
  std::lock_guard lock(mu_);
  if (engine_->mode() != policy::Mode::enforce) return;  // monitor mode installs nothing
  auto rules = host_deny_rules(engine_->enforcement_specs(), options_.sandbox_id);
  if (rules.empty()) return;
  std::string names;
  for (const auto& r : rules) names += (names.empty() ? "" : ", ") + r.name;
  AuditRecord rec;
  rec.time_ns = wall_now_ns();
  rec.sandbox_id = options_.sandbox_id;
  rec.sandbox_name = options_.sandbox_name;
  rec.view = View::host;
  rec.action = policy::Action::deny;
  auto unavailable = [&](const std::string& why) {
    host_deny_unavailable_ = why;
    rec.ok = false;
    rec.detail = "host deny unavailable: " + why + "; not enforced on the host: " + names;
    ++stats_.actions_failed;
    logger("runtime")->warn("sandbox {}: {}", options_.sandbox_id, rec.detail);
    audit_locked(std::move(rec));
  };
  if (options_.host_cgroups.empty()) return unavailable("the sandbox has no host cgroup v2 directory to attach cgroup programs to");
  auto compiled = probes::compile_host_deny_set(rules);
  auto opened = probes::HostDeny::open(options_.host_cgroups);
  if (!opened) return unavailable(opened.error().describe());
  if (auto st = (*opened)->set(compiled); !st) return unavailable(st.error().describe());
  host_deny_ = std::move(*opened);
  for (const auto& r : rules) host_deny_rule_names_.push_back(r.name);
  deny_rules_on_host_ = compiled.installed;
  stats_.host_deny_attached = true;
  stats_.host_deny_installed = compiled.installed;
  stats_.host_deny_refused = compiled.refused;
  std::string detail = "installed " + std::to_string(compiled.installed.size()) + " deny rule(s) in host cgroup programs (" +
                       std::to_string(compiled.connect.size()) + " connect, " + std::to_string(compiled.device.size()) +
                       " device entries; " + host_deny_->attached() + ")";
  for (size_t i = 0; i < compiled.installed.size(); ++i) detail += (i ? ", " : ": ") + compiled.installed[i];
  if (!compiled.refused.empty()) {
    detail += "; cannot be enforced by host cgroup programs:";
    for (const auto& r : compiled.refused) detail += " [" + r + "]";
  }
  rec.ok = compiled.refused.empty();
  rec.detail = std::move(detail);
  ++(rec.ok ? stats_.actions_ok : stats_.actions_failed);
  audit_locked(std::move(rec));
}

void SandboxMonitor::host_deny_loop() noexcept {
  BootClock clock;
  while (!stopping_.load()) {
    std::vector<Event> refusals;
    auto polled = host_deny_->poll(100, [&](std::span<const uint8_t> record) {
      auto ev = decode_event(record, View::host, clock);
      if (ev) {
        refusals.push_back(std::move(*ev));
      } else {
        std::lock_guard lock(mu_);
        ++stats_.host_decode_errors;  // the refusal happened; only its record is unreadable
      }
    });
    if (!polled) {
      logger("runtime")->error("sandbox {}: host deny poll: {}", options_.sandbox_id, polled.error().describe());
      std::this_thread::sleep_for(100ms);
      continue;
    }
    for (const auto& ev : refusals) audit_refusal(ev);
  }
}

// One audit record per refused operation, naming the rule, the hook and what was refused.
void SandboxMonitor::audit_refusal(const Event& e) noexcept {
  std::lock_guard lock(mu_);
  try {
    ++stats_.host_refusals;
    uint64_t id = e.arg.size() > 3 ? e.arg[3] : ~0ull;
    AuditRecord rec;
    rec.time_ns = wall_now_ns();
    rec.rule = id < host_deny_rule_names_.size() ? host_deny_rule_names_[id] : "rule #" + std::to_string(id);
    rec.sandbox_id = options_.sandbox_id;
    rec.sandbox_name = options_.sandbox_name;
    rec.view = View::host;
    rec.action = policy::Action::deny;
    rec.ok = true;
    std::string who = " (host pid " + std::to_string(e.proc.pid) + " " + e.proc.name + ", uid " + std::to_string(e.proc.uid) + ")";
    if (e.type == EventType::cgroup_connect) {
      static constexpr const char* kHooks[] = {"?", "connect4", "connect6", "sendmsg4", "sendmsg6"};
      uint64_t hook = e.arg.empty() ? 0 : e.arg[0];
      std::string dest = e.addr.family == AF_INET6 ? "[" + e.addr.ip + "]" : e.addr.ip;
      rec.detail = std::string("denied in-kernel by host cgroup/") + kHooks[hook < 5 ? hook : 0] + " (EPERM): " +
                   (hook >= 3 ? "send to " : "connect to ") + dest + ":" + std::to_string(e.addr.port) + who;
    } else {
      uint64_t access = e.arg.size() > 0 ? e.arg[0] : 0;
      std::string what;
      if ((access >> 16) & 1) what += "mknod";
      if ((access >> 16) & 2) what += std::string(what.empty() ? "" : "+") + "read";
      if ((access >> 16) & 4) what += std::string(what.empty() ? "" : "+") + "write";
      rec.detail = "denied in-kernel by host cgroup/dev (EPERM): " + what + " of " +
                   ((access & 0xffff) == 1 ? "block" : "char") + " device " + std::to_string(e.arg.size() > 1 ? e.arg[1] : 0) +
                   ":" + std::to_string(e.arg.size() > 2 ? e.arg[2] : 0) + who;
    }
    ++stats_.actions_ok;
    audit_locked(std::move(rec));
  } catch (...) {
  }
}

Status SandboxMonitor::watch_host_tgid(uint32_t tgid, bool is_vmm) {
  if (!probes_) return fail(ErrorCode::unavailable, "sandbox monitor: host probes are off");
  if (!is_vmm) {
    std::lock_guard lock(mu_);
    options_.helper_tgids.push_back(tgid);
  }
  return probes_->watch_tgid(tgid);
}

void SandboxMonitor::tag_host(Event& e) {
  e.view = View::host;
  e.sandbox_id = options_.sandbox_id;
  e.sandbox_name = options_.sandbox_name;
  // vmm.pid marks the VMM's own scope (QEMU and what it spawns); virtiofsd and other helpers
  // are in the sandbox but are not the VMM, and the rules tell them apart by this.
  bool helper = false;
  auto is_helper = [&](uint32_t pid) {
    return std::find(options_.helper_tgids.begin(), options_.helper_tgids.end(), pid) != options_.helper_tgids.end();
  };
  if (is_helper(e.proc.pid)) helper = true;
  for (const auto& a : e.proc.ancestors)
    if (is_helper(a.pid)) helper = true;
  e.vmm_pid = helper ? 0 : options_.vmm_pid;
}

void SandboxMonitor::tag_guest(Event& e) {
  // The guest's word is never taken for which sandbox it is.
  e.view = View::guest;
  e.sandbox_id = options_.sandbox_id;
  e.sandbox_name = options_.sandbox_name;
  e.vmm_pid = 0;
}

void SandboxMonitor::inject(Event event) {
  if (event.view == View::guest) {
    tag_guest(event);
  } else {
    tag_host(event);
  }
  evaluate(event);
}

void SandboxMonitor::host_loop() noexcept {
  BootClock clock;
  auto log = logger("runtime");
  while (!stopping_.load()) {
    std::vector<Event> batch;
    auto polled = probes_->poll(100, [&](std::span<const uint8_t> record) {
      auto ev = decode_event(record, View::host, clock);
      if (!ev) {
        std::lock_guard lock(mu_);
        ++stats_.host_decode_errors;
        return;
      }
      batch.push_back(std::move(*ev));
    });
    if (!polled) {
      log->error("sandbox {}: host probes poll: {}", options_.sandbox_id, polled.error().describe());
      std::this_thread::sleep_for(100ms);
      continue;
    }
    for (auto& ev : batch) {
      proc_table_->update(ev);
      proc_table_->enrich(ev);
      feed_host(std::move(ev));
    }
  }
}

void SandboxMonitor::feed_host(Event ev) {
  {
    std::lock_guard lock(mu_);
    ++stats_.host_records;
    tag_host(ev);
  }
  evaluate(ev);
}

bool SandboxMonitor::take_guest_token() noexcept {
  auto now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - refill_at_).count();
  refill_at_ = now;
  tokens_ = std::min(options_.guest_burst, tokens_ + elapsed * options_.guest_events_per_s);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool SandboxMonitor::on_batch(runtime::GuestEventBatch&& batch) noexcept {
  {
    std::lock_guard lock(mu_);
    ++stats_.guest_batches;
    stats_.guest_reported = batch.stats;
    guest_lsm_active_ = batch.stats.lsm_enforcing;
    if (seq_known_ && batch.first_seq != next_seq_) {
      // The client refuses non-contiguous batches too; checked here as well so that the
      // monitor does not depend on it, and so the alert can say how many events went missing.
      if (batch.first_seq > next_seq_) {
        uint64_t gap = batch.first_seq - next_seq_;
        stats_.guest_seq_missing += gap;
        tamper_locked("sequence gap: " + std::to_string(gap) + " event(s) missing before seq " + std::to_string(batch.first_seq));
      } else {
        tamper_locked("sequence went backwards: expected " + std::to_string(next_seq_) + ", got " +
                      std::to_string(batch.first_seq));
      }
    }
    seq_known_ = true;
    next_seq_ = batch.first_seq + batch.events.size();
  }
  if (batch.heartbeat) {
    std::lock_guard lock(hb_mu_);
    ++heartbeats_;
    last_heartbeat_ = Clock::now();
    silence_reported_ = false;
    hb_cv_.notify_all();
  }
  for (auto& ev : batch.events) {
    if (!take_guest_token()) {
      std::lock_guard lock(mu_);
      ++stats_.guest_rate_limited;
      continue;
    }
    tag_guest(ev);
    {
      std::lock_guard lock(mu_);
      ++stats_.guest_events;
    }
    evaluate(ev);
  }
  if (batch.heartbeat) {
    std::lock_guard lock(mu_);
    ++stats_.guest_heartbeats;
  }
  return !stopping_.load();
}

void SandboxMonitor::guest_loop() noexcept {
  auto log = logger("runtime");
  bool warned = false;
  while (!stopping_.load()) {
    Status st;
    try {
      st = hooks_.stream_events([this](runtime::GuestEventBatch&& b) { return on_batch(std::move(b)); });
    } catch (...) {
      st = fail(ErrorCode::internal, "guest event stream: exception");
    }
    if (stopping_.load()) break;
    bool running = hooks_.vm_running ? hooks_.vm_running() : true;
    {
      std::lock_guard lock(mu_);
      if (sandbox_killed_ || !running) break;
      ++stats_.guest_stream_errors;
      // A stream that ends while the VM runs is the guest sensor going away: say so.
      tamper_locked("guest event stream ended: " + (st ? std::string("closed by the guest") : st.error().describe()));
      seq_known_ = false;  // a new stream starts a new numbering
    }
    if (!warned) {
      log->warn("sandbox {}: guest event stream ended ({}); retrying", options_.sandbox_id,
                st ? "closed by the guest" : st.error().describe());
      warned = true;
    }
    std::unique_lock lk(stop_mu_);
    stop_cv_.wait_for(lk, 1s, [this] { return stopping_.load(); });
  }
  std::lock_guard lock(hb_mu_);
  guest_done_ = true;
  hb_cv_.notify_all();
}

void SandboxMonitor::watchdog_loop() noexcept {
  while (!stopping_.load()) {
    {
      std::unique_lock lk(stop_mu_);
      stop_cv_.wait_for(lk, 200ms, [this] { return stopping_.load(); });
    }
    if (stopping_.load()) break;
    {
      // A record whose partner never came is reported after its hold, even when no other
      // event arrives to trigger the release.
      std::lock_guard lock(mu_);
      release_joined_locked(OperationJoiner::Clock::now());
    }
    bool running = hooks_.vm_running ? hooks_.vm_running() : true;
    std::chrono::milliseconds silent{0};
    {
      std::lock_guard lock(hb_mu_);
      if (guest_done_ || silence_reported_ || !running) {
        if (!running) last_heartbeat_ = Clock::now();  // a stopped VM sends nothing; not silence
        continue;
      }
      silent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_heartbeat_);
      if (silent < options_.heartbeat_timeout) continue;
      silence_reported_ = true;  // re-armed by the next heartbeat: one alert per silence
    }
    std::lock_guard lock(mu_);
    if (sandbox_killed_) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", silent.count() / 1000.0);
    tamper_locked(std::string("no heartbeat for ") + buf + " s while the VM runs");
  }
}

bool SandboxMonitor::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(hb_mu_);
  uint64_t target = heartbeats_ + 2;
  return hb_cv_.wait_for(lk, timeout, [&] { return heartbeats_ >= target || guest_done_; }) && !guest_done_;
}

void SandboxMonitor::stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  if (host_thread_.joinable()) host_thread_.join();
  if (host_deny_thread_.joinable()) host_deny_thread_.join();
  if (guest_thread_.joinable()) {
    // on_batch returns false at the next batch; heartbeats come every second.
    std::unique_lock lk(hb_mu_);
    bool ended = hb_cv_.wait_for(lk, 2500ms, [this] { return guest_done_; });
    lk.unlock();
    if (!ended && hooks_.abort_guest_stream) {
      logger("runtime")->warn("sandbox {}: guest event stream did not end; stopping the VM", options_.sandbox_id);
      hooks_.abort_guest_stream();
    }
    guest_thread_.join();
  }
  {
    // Nothing is left waiting for its partner record: report it now.
    std::lock_guard lock(mu_);
    release_joined_locked(OperationJoiner::Clock::time_point::max());
  }
  if (probes_) {
    if (auto s = probes_->stats()) {
      std::lock_guard lock(mu_);
      stats_.host_ringbuf_drops = s->ringbuf_drops;
      stats_.host_pending_drops = s->pending_drops;
    }
  }
}

MonitorStats SandboxMonitor::stats() const {
  MonitorStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  if (probes_) {
    if (auto ps = probes_->stats()) {
      s.host_ringbuf_drops = ps->ringbuf_drops;
      s.host_pending_drops = ps->pending_drops;
    }
  }
  if (host_deny_) {
    if (auto ds = host_deny_->stats()) s.host_refusal_drops = ds->ringbuf_drops;
  }
  if (writer_) s.alert_write_errors = writer_->write_errors();
  return s;
}

policy::Mode SandboxMonitor::mode() const { return engine_->mode(); }

void SandboxMonitor::evaluate(const Event& event) noexcept {
  std::lock_guard lock(mu_);
  if (options_.on_event) {
    try {
      options_.on_event(event);
    } catch (...) {
    }
  }
  auto now = OperationJoiner::Clock::now();
  release_joined_locked(now);
  scratch_.clear();
  engine_->process(event, scratch_);
  // A completed sequence is its own finding (several events), never folded into a rule's alert.
  auto seq = std::stable_partition(scratch_.begin(), scratch_.end(), [](const policy::Alert& a) { return !a.is_sequence; });
  for (auto it = seq; it != scratch_.end(); ++it) emit_locked(*it);
  scratch_.erase(seq, scratch_.end());
  groups_.clear();
  try {
    joiner_.add(event, std::move(scratch_), guest_lsm_active_, now, groups_);
  } catch (...) {  // allocation failure: report unjoined rather than lose the alerts
    for (auto& a : scratch_) emit_locked(a);
  }
  for (auto& g : groups_) emit_group_locked(g);
  groups_.clear();
}

void SandboxMonitor::release_joined_locked(OperationJoiner::Clock::time_point now) noexcept {
  groups_.clear();
  try {
    joiner_.expire(now, groups_);
  } catch (...) {
  }
  for (auto& g : groups_) emit_group_locked(g);
  groups_.clear();
}

void SandboxMonitor::emit_group_locked(AlertGroup& g) noexcept {
  if (g.alerts.empty()) return;
  for (auto& a : g.alerts) {
    if (a.sandbox.empty()) a.sandbox = options_.sandbox_id;
    act_locked(a);  // every rule's action and audit record, once per operation
    // An alert-only rule that matched the syscall record of an operation the LSM refused.
    if (a.action == policy::Action::alert && g.denied && engine_->mode() == policy::Mode::enforce) a.enforced = true;
  }
  if (g.alerts.size() == 1) {
    write_locked(g.alerts.front());
    return;
  }
  try {
    policy::Alert merged = OperationJoiner::merge(std::move(g.alerts));
    write_locked(merged);
  } catch (...) {
  }
}

void SandboxMonitor::emit_locked(policy::Alert& a) noexcept {
  if (a.sandbox.empty()) a.sandbox = options_.sandbox_id;
  act_locked(a);  // decides `enforced` before the alert is written
  write_locked(a);
}

void SandboxMonitor::write_locked(policy::Alert& a) noexcept {
  ++stats_.alerts;
  if (writer_) writer_->alert(a);
  if (options_.on_alert) {
    try {
      options_.on_alert(a);
    } catch (...) {
    }
  }
}

void SandboxMonitor::act_locked(policy::Alert& a) noexcept {
  if (a.action == policy::Action::alert) {
    // An alert-only rule can match an operation that a deny rule refused in the kernel: the
    // alert then says truthfully that the operation did not happen.
    const Event* ev = a.events.empty() ? nullptr : &a.events.back();
    a.enforced = engine_->mode() == policy::Mode::enforce && ev && (ev->flags & KS_F_DENIED) != 0;
    return;
  }
  if (engine_->mode() != policy::Mode::enforce) {
    a.enforced = false;  // monitor mode: reported, nothing done
    return;
  }
  const Event* ev = a.events.empty() ? nullptr : &a.events.back();
  AuditRecord rec;
  rec.time_ns = wall_now_ns();
  rec.rule = a.rule;
  rec.sandbox_id = options_.sandbox_id;
  rec.sandbox_name = options_.sandbox_name;
  rec.view = a.view;
  rec.action = a.action;
  try {
    switch (a.action) {
      case policy::Action::alert:
        return;
      case policy::Action::deny: {
        if (!ev) {
          a.enforced = false;
          return;
        }
        if (ev->view == View::host) {
          // The host cgroup programs decided in the kernel; the traced syscall's EPERM (or a
          // refusal record) is the proof. Anything else is reported as not blocked, with why.
          bool installed =
              std::find(deny_rules_on_host_.begin(), deny_rules_on_host_.end(), a.rule) != deny_rules_on_host_.end();
          bool denied = (ev->flags & KS_F_DENIED) != 0 || (installed && ev->has_res && ev->res == -EPERM);
          a.enforced = denied;
          if (denied) {
            rec.detail = "denied in-kernel by host cgroup program (EPERM): " + describe_event(*ev);
          } else {
            rec.ok = false;
            std::string why = installed ? "the host cgroup programs let it through"
                              : !host_deny_unavailable_.empty() ? "host deny unavailable: " + host_deny_unavailable_
                              : host_deny_ ? "the rule cannot be enforced by host cgroup programs"
                                           : "the rule is not installed on the host";
            rec.detail = "not blocked: " + why + ": " + describe_event(*ev);
          }
          break;
        }
        bool installed = std::find(deny_rules_in_guest_.begin(), deny_rules_in_guest_.end(), a.rule) != deny_rules_in_guest_.end();
        bool denied = (ev->flags & KS_F_DENIED) != 0 || (installed && ev->has_res && ev->res == -EPERM);
        a.enforced = denied;
        if (denied) {
          rec.detail = "denied in-kernel by guest LSM (EPERM): " + describe_event(*ev);
        } else {
          rec.ok = false;
          rec.detail = std::string("not blocked: ") +
                       (installed ? "the guest LSM let it through" : "the rule is not installed in the guest LSM") + ": " +
                       describe_event(*ev);
        }
        break;
      }
      case policy::Action::kill: {
        if (!ev) return;
        Status st;
        std::string target = std::string(ev->view == View::guest ? "guest" : "host") + " pid " +
                             std::to_string(ev->proc.pid) + " (" + ev->proc.name + ")";
        if (ev->view == View::guest) {
          st = hooks_.kill_guest_process ? hooks_.kill_guest_process(ev->proc.pid, SIGKILL)
                                         : fail(ErrorCode::unavailable, "no agent");
        } else {
          st = kill_host_pid(ev->proc.pid, SIGKILL);
        }
        a.enforced = static_cast<bool>(st);
        rec.ok = static_cast<bool>(st);
        rec.detail = st ? "killed " + target + " with SIGKILL" + (ev->view == View::host ? " via pidfd" : " via the agent")
                        : "failed to kill " + target + ": " + st.error().describe();
        break;
      }
      case policy::Action::kill_sandbox: {
        if (sandbox_killed_) {
          a.enforced = true;  // already done for an earlier alert
          return;
        }
        Status st = hooks_.stop_vm ? hooks_.stop_vm() : fail(ErrorCode::unavailable, "no VM control");
        sandbox_killed_ = static_cast<bool>(st);
        a.enforced = sandbox_killed_;
        rec.view = View::host;
        rec.detail = st ? "stopped VM over QMP (quit)" : "failed to stop VM over QMP: " + st.error().describe();
        rec.ok = static_cast<bool>(st);
        break;
      }
    }
  } catch (...) {
    rec.ok = false;
    rec.detail = "action failed: exception";
  }
  ++(rec.ok ? stats_.actions_ok : stats_.actions_failed);
  audit_locked(std::move(rec));
}

void SandboxMonitor::audit_locked(AuditRecord record) noexcept {
  if (writer_) writer_->audit(record);
  if (options_.on_audit) {
    try {
      options_.on_audit(record);
    } catch (...) {
    }
  }
}

void SandboxMonitor::tamper_locked(const std::string& reason) noexcept {
  auto now = Clock::now();
  if (tamper_ever_ && now - last_tamper_ < options_.tamper_alert_interval) {
    ++stats_.tamper_alerts_suppressed;
    return;
  }
  tamper_ever_ = true;
  last_tamper_ = now;
  ++stats_.tamper_alerts;
  try {
    policy::Alert a;
    a.time_ns = wall_now_ns();
    a.rule = std::string(kTamperRule);
    a.priority = policy::Priority::critical;
    a.output = "Guest sensor silent or tampered (sandbox=" + options_.sandbox_id + " reason=" + reason + ")";
    a.output_fields["sandbox.id"] = options_.sandbox_id;
    a.output_fields["sandbox.name"] = options_.sandbox_name;
    a.output_fields["reason"] = reason;
    a.tags = {"kata_sentry", "guest", "tamper"};
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) a.hostname = host;
    a.sandbox = options_.sandbox_id;
    a.view = View::guest;
    emit_locked(a);
  } catch (...) {
  }
}

}  // namespace kata_sentry::monitor
