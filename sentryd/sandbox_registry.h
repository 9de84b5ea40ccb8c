// The sandboxes kata-sentryd watches. A shim registers its sandbox (RegisterSandbox), then
// opens the relay (RelayGuest); attaching the relay starts the sandbox's SandboxMonitor (one
// policy engine, the guest stream through the relay, its share of the node's host probes from
// the HostProbeHub), and unregistering or the relay ending stops it. Each sandbox has its own
// engine, so sequence rules correlate within one sandbox only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "sentryd/daemon_config.h"
#include "sentryd/event_hub.h"
#include "monitor/host_probe_hub.h"
#include "sentryd/relay_link.h"
#include "sentryd/sandbox_processes.h"
#include "exporters/audit_log.h"
#include "monitor/sandbox_monitor.h"

namespace kata_sentry::daemon {

struct SandboxRecord {
  std::string sandbox_id;
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  uint32_t vmm_pid = 0;
  std::vector<uint32_t> helper_pids;
  std::vector<std::string> host_cgroups;
  std::vector<std::string> container_ids;
};

struct SandboxState {
  SandboxRecord record;
  uint64_t registered_at_ns = 0;
  bool guest_attached = false;
  size_t relay_queued = 0;  // guest batches waiting in the relay
  monitor::MonitorStats stats;
};

class DaemonMetrics;

class SandboxRegistry {
 public:
  // `log` (the audit log the exporters follow), `hub`, `probes` and `metrics` must outlive the
  // registry. `probes` null: no host view (config host_probes: false); `metrics` null: none served.
  SandboxRegistry(DaemonConfig config, exporters::AuditLog& log, EventHub& hub, monitor::HostProbeHub* probes,
                  DaemonMetrics* metrics = nullptr);
  ~SandboxRegistry();  // shutdown()

  // Fails (invalid_argument) naming the bad field, or (already_exists) for a known id.
  // `boot_time` non-zero: the sandbox has just booted, in that long (the boot-time histogram).
  Status register_sandbox(SandboxRecord record, std::chrono::nanoseconds boot_time = {});
  Status update(const std::string& sandbox_id, const std::vector<std::string>& add, const std::vector<std::string>& remove);
  // Lets the monitor deliver what the guest sent before this call, then stops it.
  Status unregister(const std::string& sandbox_id);

  // The relay opened. Starts the monitor on its own thread (its start pushes the deny set
  // through the relay, whose answers arrive on the caller's stream); `started` is called once
  // with the outcome.
  Result<std::shared_ptr<RelayLink>> attach(const std::string& sandbox_id, RelayLink::Send send,
                                            std::function<void(const Status&)> started);
  // The relay's event path opened: the link its control path attached.
  Result<std::shared_ptr<RelayLink>> link(const std::string& sandbox_id) const;
  // The relay ended. A sandbox still registered lost its shim: it is stopped and forgotten.
  void detach(const std::string& sandbox_id, const std::shared_ptr<RelayLink>& link);

  std::vector<SandboxState> list() const;
  // A client follows raw events (StreamEvents) while `on`: the probes of every sandbox, host
  // and guest, then build every event type, not only what the rules can match. Counted: the
  // set narrows again when the last follower leaves.
  void follow_events(bool on);
  // The sandbox's processes, host and guest (kata-trace ps|tree). Fails (not_found) for an
  // unknown sandbox; a guest that cannot answer leaves guest_error set, not a failure.
  Result<SandboxProcesses> processes(const std::string& sandbox_id) const;
  // Stops every sandbox's VM through its shim (the audit log's stop_sandboxes policy when the
  // disk is full); the shims then unregister them. Returns how many were asked to stop.
  size_t stop_all_vms(const std::string& why);
  policy::Mode mode() const { return config_.mode; }
  void shutdown();

 private:
  struct Entry {
    SandboxRecord record;
    uint64_t registered_at_ns = 0;
    std::shared_ptr<RelayLink> link;
    std::thread starter;
    std::mutex monitor_mu;  // the starter sets `monitor` while list() may read it
    std::unique_ptr<monitor::SandboxMonitor> monitor;
    std::shared_ptr<LastAlerts> last_alerts = std::make_shared<LastAlerts>();  // the monitor's alerts write it
  };
  void start_monitor(Entry& entry, std::function<void(const Status&)> started);
  // Takes the entry out of the map (under mu_), so stopping it never holds the registry lock.
  std::unique_ptr<Entry> take(const std::string& sandbox_id, const RelayLink* only_with_link);
  void stop(Entry& entry, bool flush);
  monitor::MonitorOptions monitor_options(const SandboxRecord& record, std::shared_ptr<LastAlerts> last_alerts);

  const DaemonConfig config_;
  exporters::AuditLog& log_;
  EventHub& hub_;
  monitor::HostProbeHub* probes_;
  DaemonMetrics* metrics_;
  const std::string hostname_;
  mutable std::mutex mu_;  // the map, event_followers_
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  int event_followers_ = 0;
};

}  // namespace kata_sentry::daemon
