#include "sentryd/sandbox_registry.h"

#include <unistd.h>

#include <filesystem>
#include <regex>

#include "core/event_json.h"
#include "core/logging.h"
#include "policy-engine/alert.h"
#include "monitor/rules_path.h"
#include "sentryd/daemon_metrics.h"

namespace kata_sentry::daemon {
namespace {

using namespace std::chrono_literals;

uint64_t wall_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string local_hostname() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "";
}

// Ids become alert fields and log words; the shim's own ids follow containerd's rules.
bool valid_id(const std::string& id) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
  return std::regex_match(id, re);
}

Status check_record(const SandboxRecord& r) {
  if (!valid_id(r.sandbox_id))
    return fail(ErrorCode::invalid_argument, "sandbox_id '" + r.sandbox_id + "' is not [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
  if (r.vmm_pid == 0 || !std::filesystem::exists("/proc/" + std::to_string(r.vmm_pid)))
    return fail(ErrorCode::invalid_argument, "sandbox " + r.sandbox_id + ": vmm_pid " + std::to_string(r.vmm_pid) + " is not a running process");
  for (const auto& c : r.container_ids)
    if (!valid_id(c)) return fail(ErrorCode::invalid_argument, "sandbox " + r.sandbox_id + ": container id '" + c + "' is not valid");
  for (const auto& g : r.host_cgroups)
    if (g.empty() || g[0] != '/') return fail(ErrorCode::invalid_argument, "sandbox " + r.sandbox_id + ": host cgroup '" + g + "' is not an absolute path");
  return {};
}

}  // namespace

SandboxRegistry::SandboxRegistry(DaemonConfig config, exporters::AuditLog& log, EventHub& hub, monitor::HostProbeHub* probes,
                                 DaemonMetrics* metrics)
    : config_(std::move(config)), log_(log), hub_(hub), probes_(probes), metrics_(metrics), hostname_(local_hostname()) {}

SandboxRegistry::~SandboxRegistry() { shutdown(); }

Status SandboxRegistry::register_sandbox(SandboxRecord record, std::chrono::nanoseconds boot_time) {
  if (auto st = check_record(record); !st) return st;
  std::lock_guard lock(mu_);
  if (entries_.count(record.sandbox_id)) return fail(ErrorCode::invalid_argument, "sandbox " + record.sandbox_id + " is already registered");
  auto e = std::make_unique<Entry>();
  e->registered_at_ns = wall_ns();
  logger("sentryd")->info("sandbox {} registered: pod {}/{}, vmm pid {}, {} container(s)", record.sandbox_id, record.pod_namespace,
                          record.pod_name, record.vmm_pid, record.container_ids.size());
  e->record = std::move(record);
  entries_[e->record.sandbox_id] = std::move(e);
  if (metrics_ && boot_time.count() > 0) metrics_->on_sandbox_boot(boot_time);
  return {};
}

Status SandboxRegistry::update(const std::string& sandbox_id, const std::vector<std::string>& add, const std::vector<std::string>& remove) {
  for (const auto& c : add)
    if (!valid_id(c)) return fail(ErrorCode::invalid_argument, "sandbox " + sandbox_id + ": container id '" + c + "' is not valid");
  std::lock_guard lock(mu_);
  auto it = entries_.find(sandbox_id);
  if (it == entries_.end()) return fail(ErrorCode::not_found, "sandbox " + sandbox_id + " is not registered");
  Entry& e = *it->second;
  auto& ids = e.record.container_ids;
  for (const auto& c : add)
    if (std::find(ids.begin(), ids.end(), c) == ids.end()) ids.push_back(c);
  std::erase_if(ids, [&](const std::string& c) { return std::find(remove.begin(), remove.end(), c) != remove.end(); });
  // Before the shim creates the container: its first guest events must not look forged.
  std::lock_guard mlock(e.monitor_mu);
  if (e.monitor) e.monitor->set_known_containers(add);
  return {};
}

std::unique_ptr<SandboxRegistry::Entry> SandboxRegistry::take(const std::string& sandbox_id, const RelayLink* only_with_link) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(sandbox_id);
  if (it == entries_.end()) return nullptr;
  if (only_with_link && it->second->link.get() != only_with_link) return nullptr;
  auto e = std::move(it->second);
  entries_.erase(it);
  return e;
}

void SandboxRegistry::stop(Entry& e, bool flush) {
  if (e.starter.joinable()) e.starter.join();
  std::unique_ptr<monitor::SandboxMonitor> m;
  {
    std::lock_guard lock(e.monitor_mu);
    m = std::move(e.monitor);
  }
  // The guest's queue is FIFO: two heartbeats after this point mean everything before it is in.
  if (m && flush && e.link && !e.link->closed()) (void)m->flush(3000ms);
  if (probes_) probes_->detach(e.record.sandbox_id);  // no host record reaches the monitor after this
  if (e.link) e.link->close();
  if (m) {
    m->stop();
    if (metrics_) metrics_->retire(m->stats());  // its counts stay in the node-wide counters
    logger("sentryd")->info("sandbox {}: monitoring stopped; {}", e.record.sandbox_id, monitor::describe(m->stats()));
  }
}

Status SandboxRegistry::unregister(const std::string& sandbox_id) {
  auto e = take(sandbox_id, nullptr);
  if (!e) return fail(ErrorCode::not_found, "sandbox " + sandbox_id + " is not registered");
  stop(*e, true);
  logger("sentryd")->info("sandbox {} unregistered", sandbox_id);
  return {};
}

Result<std::shared_ptr<RelayLink>> SandboxRegistry::link(const std::string& sandbox_id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(sandbox_id);
  if (it == entries_.end()) return fail(ErrorCode::not_found, "relay events for sandbox " + sandbox_id + ": not registered");
  if (!it->second->link) return fail(ErrorCode::unavailable, "relay events for sandbox " + sandbox_id + ": its control relay is not attached");
  return it->second->link;
}

Result<std::shared_ptr<RelayLink>> SandboxRegistry::attach(const std::string& sandbox_id, RelayLink::Send send,
                                                           std::function<void(const Status&)> started) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(sandbox_id);
  if (it == entries_.end()) return fail(ErrorCode::not_found, "relay for sandbox " + sandbox_id + ": not registered");
  Entry& e = *it->second;
  if (e.link) return fail(ErrorCode::unavailable, "relay for sandbox " + sandbox_id + ": a relay is already attached");
  e.link = std::make_shared<RelayLink>(sandbox_id, std::move(send));
  e.starter = std::thread([this, &e, started = std::move(started)] { start_monitor(e, started); });
  return e.link;
}

void SandboxRegistry::start_monitor(Entry& e, std::function<void(const Status&)> started) {
  auto log = logger("sentryd");
  SandboxRecord record;
  {
    std::lock_guard lock(mu_);  // update() may add containers meanwhile
    record = e.record;
  }
  Status outcome;
  auto engine = monitor::load_engine(config_.rules, config_.mode);
  if (!engine) {
    outcome = std::unexpected(engine.error());
  } else {
    auto m = monitor::SandboxMonitor::start(std::move(*engine), monitor_options(record, e.last_alerts), e.link->hooks(), &log_);
    if (m && probes_) {
      std::vector<uint32_t> pids = record.helper_pids;
      pids.push_back(record.vmm_pid);
      monitor::SandboxMonitor* sink = m->get();
      {
        std::lock_guard lock(mu_);
        if (event_followers_ > 0) sink->set_want_all(true);
      }
      if (auto st = probes_->attach(record.sandbox_id, pids, record.host_cgroups, [sink](Event&& ev) { sink->feed_host(std::move(ev)); },
                                    sink->host_wanted_types(), sink->host_field_filters());
          !st) {
        (*m)->stop();
        m = std::unexpected(Error{st.error().code, st.error().sys_errno, "host probes: " + st.error().message});
      }
    }
    if (m) {
      std::lock_guard lock(e.monitor_mu);
      e.monitor = std::move(*m);
    } else {
      outcome = std::unexpected(m.error());
    }
  }
  if (outcome) {
    // Containers registered while the monitor started.
    std::lock_guard lock(mu_);
    std::lock_guard mlock(e.monitor_mu);
    e.monitor->set_known_containers(e.record.container_ids);
  }
  if (outcome) {
    log->info("sandbox {}: monitoring ({} mode)", record.sandbox_id, config_.mode == policy::Mode::enforce ? "enforce" : "monitor");
  } else {
    log->error("sandbox {}: monitor did not start: {}", record.sandbox_id, outcome.error().describe());
    monitor::AuditRecord rec;
    rec.time_ns = wall_ns();
    rec.sandbox_id = record.sandbox_id;
    rec.sandbox_name = record.pod_name;
    rec.view = View::host;
    rec.ok = false;
    rec.detail = "monitoring did not start: " + outcome.error().describe();
    if (auto seq = log_.append(exporters::RecordKind::audit, monitor::audit_to_json_line(rec, hostname_)); seq) (void)log_.wait_durable(*seq);
  }
  started(outcome);
}

monitor::MonitorOptions SandboxRegistry::monitor_options(const SandboxRecord& r, std::shared_ptr<LastAlerts> last_alerts) {
  monitor::MonitorOptions o;
  o.sandbox_id = r.sandbox_id;
  o.sandbox_name = r.pod_name.empty() ? r.sandbox_id : r.pod_namespace + "/" + r.pod_name;
  o.pod = {r.pod_name, r.pod_namespace, r.pod_uid};
  o.vmm_pid = r.vmm_pid;
  o.helper_tgids = r.helper_pids;
  o.host_cgroups = r.host_cgroups;  // where enforce mode attaches the host deny programs
  o.container_ids = r.container_ids;
  o.guard.events_per_s = config_.guest_events_per_second;
  o.guard.burst = config_.guest_burst;
  o.heartbeat_timeout = std::chrono::milliseconds(config_.heartbeat_timeout_ms);
  const bool log_events = config_.pipeline.audit.events;
  o.want_all_types = log_events;
  o.on_event = [this, log_events, pod = r.pod_name, ns = r.pod_namespace](const Event& ev) {
    if (log_events) (void)log_.append(exporters::RecordKind::event, event_to_json_line(ev));
    hub_.publish(ev, PodRef{pod, ns});
  };
  o.on_alert = [this, pod = r.pod_name, ns = r.pod_namespace, last_alerts](const policy::Alert& a) {
    if (!a.events.empty())
      last_alerts->record(a.events.back().view, a.events.back().proc.pid, a.rule, a.priority, a.time_ns);
    AlertLine line;
    line.time_ns = a.time_ns;
    line.sandbox_id = a.sandbox;
    if (!a.events.empty()) line.container_id = a.events.back().container_id;
    line.rule = a.rule;
    line.priority = a.priority;
    line.view = a.view;
    line.pod_name = pod;
    line.pod_namespace = ns;
    line.json = policy::alert_to_json_line(a);
    hub_.publish(line);
  };
  o.on_audit = [this, pod = r.pod_name, ns = r.pod_namespace](const monitor::AuditRecord& r) {
    AlertLine line;
    line.pod_name = pod;
    line.pod_namespace = ns;
    line.time_ns = r.time_ns;
    line.sandbox_id = r.sandbox_id;
    line.rule = r.rule;
    line.audit = true;
    line.view = r.view;
    line.json = monitor::audit_to_json_line(r, hostname_);
    hub_.publish(line);
  };
  if (metrics_) metrics_->observe(o);
  return o;
}

void SandboxRegistry::detach(const std::string& sandbox_id, const std::shared_ptr<RelayLink>& link) {
  link->close();
  auto e = take(sandbox_id, link.get());
  if (!e) return;  // unregistered before the relay ended: the normal way
  logger("sentryd")->warn("sandbox {}: its relay ended without UnregisterSandbox (shim gone?); monitoring stopped", sandbox_id);
  stop(*e, false);
}

void SandboxRegistry::follow_events(bool on) {
  // Under mu_ throughout, so a sandbox cannot stop meanwhile. Nothing here waits for a guest:
  // each monitor's worker tells its guest (SandboxMonitor::set_want_all).
  std::lock_guard lock(mu_);
  int before = event_followers_;
  event_followers_ = std::max(0, event_followers_ + (on ? 1 : -1));
  if ((before > 0) == (event_followers_ > 0)) return;
  const bool all = event_followers_ > 0;
  auto log = logger("sentryd");
  if (probes_)
    if (auto st = probes_->set_want_all(all); !st) log->warn("host probes: {}", st.error().describe());
  for (auto& [id, e] : entries_) {
    std::lock_guard mlock(e->monitor_mu);
    if (!e->monitor) continue;
    e->monitor->set_want_all(all);
  }
  log->info("event followers: {}; probes build {}", event_followers_, all ? "every event type" : "the rules' event types");
}

std::vector<SandboxState> SandboxRegistry::list() const {
  std::lock_guard lock(mu_);
  std::vector<SandboxState> out;
  for (const auto& [id, e] : entries_) {
    SandboxState s;
    s.record = e->record;
    s.registered_at_ns = e->registered_at_ns;
    s.guest_attached = e->link && !e->link->closed();
    s.relay_queued = e->link ? e->link->queued() : 0;
    std::lock_guard mlock(e->monitor_mu);
    if (e->monitor) s.stats = e->monitor->stats();
    out.push_back(std::move(s));
  }
  return out;
}

Result<SandboxProcesses> SandboxRegistry::processes(const std::string& sandbox_id) const {
  SandboxRecord record;
  std::shared_ptr<RelayLink> link;
  std::shared_ptr<LastAlerts> alerts;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(sandbox_id);
    if (it == entries_.end()) return fail(ErrorCode::not_found, "sandbox " + sandbox_id + " is not registered");
    record = it->second->record;
    link = it->second->link;
    alerts = it->second->last_alerts;
  }
  // Outside the registry lock: the guest's answer takes a round trip through the shim.
  Result<GuestProcesses> guest = fail(ErrorCode::unavailable, "no relay from the shim is attached");
  if (link) {
    auto wire = link->list_guest_processes();
    guest = wire ? decode_guest_processes(*wire, record.container_ids) : Result<GuestProcesses>(std::unexpected(wire.error()));
  }
  return join_processes(host_processes(record.vmm_pid, record.helper_pids), std::move(guest), *alerts);
}

size_t SandboxRegistry::stop_all_vms(const std::string& why) {
  std::vector<std::pair<std::string, std::shared_ptr<RelayLink>>> links;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_)
      if (e->link) links.emplace_back(id, e->link);
  }
  for (const auto& [id, link] : links) {
    auto hooks = link->hooks();
    Status st = hooks.stop_vm ? hooks.stop_vm() : fail(ErrorCode::unavailable, "no VM control");
    if (st) {
      logger("sentryd")->error("sandbox {}: VM stopped: {}", id, why);
    } else {
      logger("sentryd")->error("sandbox {}: could not stop its VM ({}): {}", id, why, st.error().describe());
    }
  }
  return links.size();
}

void SandboxRegistry::shutdown() {
  std::map<std::string, std::unique_ptr<Entry>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(entries_);
  }
  for (auto& [id, e] : all) stop(*e, false);
}

}  // namespace kata_sentry::daemon
