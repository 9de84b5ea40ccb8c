// One sandbox's processes joined across views (Sentryd.ListProcesses, kata-trace ps|tree).
//
// Host side: read from the daemon's own /proc: the VMM, its parent (the shim) and everything
// under the shim (virtiofsd, ...), and the helpers the shim registered. Guest side: the agent's
// process table, relayed as wire bytes. The guest is hostile, so its reply is decoded here
// within GuestProcessLimits: every entry is checked (pid range, duplicates, a process its own
// parent), every text field cut and escaped, and a container id kept only when the shim
// registered that container for this sandbox, so a guest can never name another sandbox's
// containers (and, its pids being its own, never a host process).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/result.h"
#include "policy-engine/rule.h"

namespace kata_sentry::daemon {

struct ProcessRow {
  View view = View::host;
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string name;          // printable (terminal_safe), bounded
  std::string exepath;
  std::string cmdline;       // argv joined by spaces, bounded ("..." when cut)
  std::string container_id;  // guest: a registered container of the sandbox, else empty
  std::string role;          // host: shim | vmm | virtiofsd | helper; guest: agent | init | ""
  std::string last_alert;    // rule; empty: none
  std::string last_alert_priority;
  uint64_t last_alert_ns = 0;
};

struct GuestProcessLimits {
  size_t max_wire_bytes = 2u << 20;  // a larger reply is refused whole
  size_t max_processes = 2048;       // entries beyond are ignored (truncated)
  size_t max_field_bytes = 256;      // comm, exepath, container id, one argument
  size_t max_cmdline_bytes = 512;
};

struct GuestProcesses {
  std::vector<ProcessRow> rows;  // pid order
  bool truncated = false;        // the guest had (or sent) more than max_processes
  uint32_t refused = 0;          // entries dropped as invalid
};

// Fails (invalid_argument) when the bytes are not a ListGuestProcessesResponse or exceed
// max_wire_bytes; a bad entry only costs that entry.
Result<GuestProcesses> decode_guest_processes(std::string_view wire, const std::vector<std::string>& sandbox_containers,
                                              const GuestProcessLimits& limits = {});

// The sandbox's host processes (at most kMaxHostProcesses, pid order). Processes that are gone
// are left out; never fails (an empty list when the VMM is gone).
constexpr size_t kMaxHostProcesses = 256;
std::vector<ProcessRow> host_processes(uint32_t vmm_pid, const std::vector<uint32_t>& helper_pids,
                                       const std::string& proc_root = "/proc");

class LastAlerts;

struct SandboxProcesses {
  std::vector<ProcessRow> rows;  // host first, then guest
  std::string guest_error;       // why the guest's rows are missing; empty: they are there
  bool guest_truncated = false;
  uint32_t guest_refused = 0;
};

// The join: host rows, then the guest's (or why there are none), each marked with its last alert.
SandboxProcesses join_processes(std::vector<ProcessRow> host, Result<GuestProcesses> guest, const LastAlerts& alerts);

// The last alert each process raised, per sandbox: bounded (the least recently alerting
// processes go first), so a guest that makes many processes alert costs a fixed amount.
// Thread-safe: monitors record, ListProcesses reads.
class LastAlerts {
 public:
  static constexpr size_t kCapacity = 512;
  explicit LastAlerts(size_t capacity = kCapacity) : capacity_(capacity ? capacity : 1) {}
  void record(View view, uint32_t pid, const std::string& rule, policy::Priority priority, uint64_t time_ns);
  // Sets last_alert* on the rows that have one.
  void mark(std::vector<ProcessRow>& rows) const;
  size_t size() const;

 private:
  using Key = std::pair<View, uint32_t>;
  struct Mark {
    std::string rule;
    policy::Priority priority = policy::Priority::informational;
    uint64_t time_ns = 0;
    std::list<Key>::iterator lru;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<Key, Mark> marks_;
  std::list<Key> lru_;  // front: most recent
};

}  // namespace kata_sentry::daemon
