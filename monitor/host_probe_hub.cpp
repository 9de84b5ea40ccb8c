#include "monitor/host_probe_hub.h"

#include <algorithm>
#include <chrono>

#include "core/logging.h"
#include "host-probes/host_event_reader.h"

namespace kata_sentry::monitor {

using namespace std::chrono_literals;

Result<std::unique_ptr<HostProbeHub>> HostProbeHub::open() {
  probes::HostEventReaderOptions o;
  o.probes.scope_enabled = true;  // nothing is traced until a sandbox is attached
  o.probes.follow_children = true;
  o.probes.ring_buffer_bytes = 8u << 20;
  o.probes.wanted_types.reset();  // attach() widens it to what a sandbox's rules use
  auto reader = probes::HostEventReader::open(o);
  if (!reader) return std::unexpected(reader.error());
  std::unique_ptr<HostProbeHub> hub(new HostProbeHub());
  hub->reader_ = std::move(*reader);
  hub->backend_report_ = hub->reader_->probes().backend_report();
  hub->thread_ = std::thread([h = hub.get()] { h->loop(); });
  logger("monitor")->info("host probes: {}", hub->backend_report_);
  return hub;
}

HostProbeHub::~HostProbeHub() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

const std::string& HostProbeHub::backend_report() const { return backend_report_; }

Status HostProbeHub::attach(const std::string& sandbox_id, const std::vector<uint32_t>& pids, const std::vector<std::string>& cgroups,
                            Sink sink, const TypeMask& wanted, const FieldFilters& fields) {
  auto r = std::make_shared<Route>();
  r->pids = pids;
  r->wanted = wanted;
  r->fields = fields;
  r->sink = std::move(sink);
  for (const auto& dir : cgroups) {
    auto id = probes::SyscallProbes::cgroup_id_of(dir);
    if (!id) return std::unexpected(id.error());
    r->cgroup_ids.push_back(*id);
  }
  // Routed before it is in scope: no record of the sandbox can arrive unroutable.
  {
    std::lock_guard lock(mu_);
    if (routes_.count(sandbox_id)) return fail(ErrorCode::invalid_argument, "host probes: sandbox " + sandbox_id + " is attached already");
    routes_[sandbox_id] = r;
  }
  // Widened before the scope grows: the sandbox's first records are built.
  Status st = push_wanted_types();
  auto& probes = reader_->probes();
  for (uint32_t pid : r->pids)
    if (st) st = probes.watch_tgid(pid);
  for (uint64_t id : r->cgroup_ids)
    if (st) st = probes.watch_cgroup(id);
  if (!st) detach(sandbox_id);
  return st;
}

Status HostProbeHub::watch(const std::string& sandbox_id, uint32_t pid) {
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(sandbox_id);
    if (it == routes_.end()) return fail(ErrorCode::not_found, "host probes: sandbox " + sandbox_id + " is not attached");
    it->second->pids.push_back(pid);
  }
  return reader_->probes().watch_tgid(pid);
}

void HostProbeHub::detach(const std::string& sandbox_id) {
  std::shared_ptr<Route> r;
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(sandbox_id);
    if (it == routes_.end()) return;
    r = std::move(it->second);
    routes_.erase(it);
  }
  {
    // Waits for a sink call in progress; none starts after this.
    std::lock_guard lock(r->sink_mu);
    r->sink = nullptr;
  }
  // Children the kernel added to the scope at fork leave it when they exit.
  auto& probes = reader_->probes();
  for (uint32_t pid : r->pids) (void)probes.unwatch_tgid(pid);
  for (uint64_t id : r->cgroup_ids) (void)probes.unwatch_cgroup(id);
  if (auto st = push_wanted_types(); !st) logger("monitor")->warn("host probes: {}", st.error().describe());
}

Status HostProbeHub::set_want_all(bool want_all) {
  {
    std::lock_guard lock(mu_);
    want_all_ = want_all;
  }
  return push_wanted_types();
}

Status HostProbeHub::push_wanted_types() {
  std::lock_guard push(push_mu_);
  TypeMask wanted;
  FieldFilters fields;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, r] : routes_) {
      fields = unite(wanted, fields, r->wanted, r->fields);
      wanted |= r->wanted;
    }
    if (want_all_) {
      wanted.set();
      fields.clear();
    }
  }
  if (pushed_ == wanted && pushed_fields_ == fields) return {};
  auto& probes = reader_->probes();
  // The old conditions go first: the new types with the old conditions of a type whose rules
  // changed would lose records for a moment; no condition at all only costs that moment.
  if (pushed_fields_ != fields) {
    pushed_fields_.reset();
    if (auto st = probes.set_field_filters({}); !st) return st;
    pushed_fields_ = FieldFilters();
  }
  if (pushed_ != wanted) {
    if (auto st = probes.set_wanted_types(wanted); !st) {
      pushed_.reset();  // part of it may be in the kernel: push again next time
      return st;
    }
    pushed_ = wanted;
  }
  if (pushed_fields_ != fields) {
    if (auto st = probes.set_field_filters(fields); !st) return st;  // the bank flip is all or nothing
    pushed_fields_ = fields;
  }
  return {};
}

std::shared_ptr<HostProbeHub::Route> HostProbeHub::route_locked(const Event& e) const {
  for (const auto& [id, r] : routes_)
    if (std::find(r->cgroup_ids.begin(), r->cgroup_ids.end(), e.proc.cgroup_id) != r->cgroup_ids.end()) return r;
  auto owns = [&](const Route& r, uint32_t pid) { return std::find(r.pids.begin(), r.pids.end(), pid) != r.pids.end(); };
  for (const auto& [id, r] : routes_) {
    if (owns(*r, e.proc.pid)) return r;
    for (const auto& a : e.proc.ancestors)
      if (owns(*r, a.pid)) return r;
  }
  return nullptr;
}

void HostProbeHub::loop() noexcept {
  auto log = logger("monitor");
  while (!stopping_.load()) {
    auto polled = reader_->poll(100, [&](Event&& ev) {
      std::shared_ptr<Route> r;
      {
        std::lock_guard lock(mu_);
        ++records_;
        r = route_locked(ev);
        if (!r) {
          ++unrouted_;
          return;
        }
      }
      std::lock_guard lock(r->sink_mu);
      if (r->sink) r->sink(std::move(ev));
    });
    if (!polled) {
      log->error("host probes poll: {}", polled.error().describe());
      std::this_thread::sleep_for(100ms);
    }
    decode_errors_ = reader_->stats().decode_errors;
  }
}

HostProbeHubStats HostProbeHub::stats() const {
  HostProbeHubStats s;
  {
    std::lock_guard lock(mu_);
    s.records = records_;
    s.unrouted = unrouted_;
  }
  s.decode_errors = decode_errors_.load();
  if (auto ps = reader_->probes().stats()) {
    s.ringbuf_drops = ps->ringbuf_drops;
    s.pending_drops = ps->pending_drops;
    s.filtered = ps->filtered;
    s.filtered_fields = ps->filtered_fields;
  }
  return s;
}

}  // namespace kata_sentry::monitor
