#include "runtime/daemon/host_probe_hub.h"

#include <algorithm>
#include <chrono>

#include "core/event_decode.h"
#include "core/logging.h"
#include "host-probes/host_probes.h"
#include "host-probes/proc_table.h"

namespace kata_sentry::daemon {

using namespace std::chrono_literals;

Result<std::unique_ptr<HostProbeHub>> HostProbeHub::open() {
  if (auto tf = probes::ensure_tracefs(); !tf) return std::unexpected(tf.error());
  probes::HostProbesOptions o;
  o.scope_enabled = true;  // nothing is traced until a sandbox is attached
  o.follow_children = true;
  o.wakeup_bytes = 0;      // latency over CPU: sandbox scopes are quiet
  o.ring_buffer_bytes = 8u << 20;
  auto opened = probes::HostProbes::open(o);
  if (!opened) return std::unexpected(opened.error());
  std::unique_ptr<HostProbeHub> hub(new HostProbeHub());
  hub->probes_ = std::move(*opened);
  hub->procs_ = std::make_unique<probes::ProcTable>(probes::ProcTable::kDefaultCapacity);
  hub->thread_ = std::thread([h = hub.get()] { h->loop(); });
  logger("sentryd")->info("host probes: {}", hub->probes_->backend_report());
  return hub;
}

HostProbeHub::~HostProbeHub() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

const std::string& HostProbeHub::backend_report() const { return probes_->backend_report(); }

Status HostProbeHub::attach(const std::string& sandbox_id, const std::vector<uint32_t>& pids, const std::vector<std::string>& cgroups,
                            Sink sink) {
  Route r;
  r.pids = pids;
  r.sink = std::move(sink);
  for (const auto& dir : cgroups) {
    auto id = probes::HostProbes::cgroup_id_of(dir);
    if (!id) return std::unexpected(id.error());
    r.cgroup_ids.push_back(*id);
  }
  // Routed before it is in scope: no record of the sandbox can arrive unroutable.
  {
    std::lock_guard lock(mu_);
    if (routes_.count(sandbox_id)) return fail(ErrorCode::invalid_argument, "host probes: sandbox " + sandbox_id + " is attached already");
    routes_[sandbox_id] = r;
  }
  Status st;
  for (uint32_t pid : r.pids)
    if (st) st = probes_->watch_tgid(pid);
  for (uint64_t id : r.cgroup_ids)
    if (st) st = probes_->watch_cgroup(id);
  if (!st) detach(sandbox_id);
  return st;
}

void HostProbeHub::detach(const std::string& sandbox_id) {
  Route r;
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(sandbox_id);
    if (it == routes_.end()) return;
    r = std::move(it->second);
    routes_.erase(it);
  }
  // Children the kernel added to the scope at fork leave it when they exit.
  for (uint32_t pid : r.pids) (void)probes_->unwatch_tgid(pid);
  for (uint64_t id : r.cgroup_ids) (void)probes_->unwatch_cgroup(id);
}

HostProbeHub::Route* HostProbeHub::route_locked(const Event& e) {
  for (auto& [id, r] : routes_)
    if (std::find(r.cgroup_ids.begin(), r.cgroup_ids.end(), e.proc.cgroup_id) != r.cgroup_ids.end()) return &r;
  auto owns = [&](const Route& r, uint32_t pid) { return std::find(r.pids.begin(), r.pids.end(), pid) != r.pids.end(); };
  for (auto& [id, r] : routes_) {
    if (owns(r, e.proc.pid)) return &r;
    for (const auto& a : e.proc.ancestors)
      if (owns(r, a.pid)) return &r;
  }
  return nullptr;
}

void HostProbeHub::loop() noexcept {
  BootClock clock;
  auto log = logger("sentryd");
  std::vector<Event> batch;
  while (!stopping_.load()) {
    batch.clear();
    auto polled = probes_->poll(100, [&](std::span<const uint8_t> record) {
      auto ev = decode_event(record, View::host, clock);
      if (!ev) {
        std::lock_guard lock(mu_);
        ++stats_.decode_errors;
        return;
      }
      batch.push_back(std::move(*ev));
    });
    if (!polled) {
      log->error("host probes poll: {}", polled.error().describe());
      std::this_thread::sleep_for(100ms);
      continue;
    }
    for (auto& ev : batch) {
      procs_->update(ev);
      procs_->enrich(ev);
      std::lock_guard lock(mu_);
      ++stats_.records;
      Route* r = route_locked(ev);
      if (!r) {
        ++stats_.unrouted;
        continue;
      }
      r->sink(std::move(ev));
    }
  }
}

HostProbeHubStats HostProbeHub::stats() const {
  HostProbeHubStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  if (auto ps = probes_->stats()) {
    s.ringbuf_drops = ps->ringbuf_drops;
    s.pending_drops = ps->pending_drops;
  }
  return s;
}

}  // namespace kata_sentry::daemon
