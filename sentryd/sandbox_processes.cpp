#include "sentryd/sandbox_processes.h"

#include <algorithm>
#include <set>

#include "agent.pb.h"
#include "core/read_file.h"
#include "core/terminal_text.h"
#include "syscall-probes/proc_table.h"

namespace kata_sentry::daemon {
namespace {

// Linux's PID_MAX_LIMIT: a guest pid above it is a lie.
constexpr uint32_t kMaxPid = 4u << 20;

// Cut first, escape after: a cut in the middle of a UTF-8 sequence is escaped, not kept.
std::string bounded_text(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return terminal_safe(text);
  return terminal_safe(text.substr(0, max_bytes)) + "...";
}

template <typename Args>
std::string joined_cmdline(const Args& args, bool truncated, size_t max_arg, size_t max_total) {
  std::string raw;
  for (const auto& a : args) {
    if (raw.size() >= max_total) {
      truncated = true;
      break;
    }
    if (!raw.empty()) raw += ' ';
    raw.append(std::string_view(a).substr(0, max_arg));
    truncated |= a.size() > max_arg;
  }
  std::string out = bounded_text(raw, max_total);
  if (truncated && !out.ends_with("...")) out += " ...";
  return out;
}

// The parent of every process under proc_root, from <pid>/stat.
std::map<uint32_t, uint32_t> parents(const std::string& proc_root) {
  std::map<uint32_t, uint32_t> out;
  for (uint32_t pid : probes::list_proc_pids(proc_root)) {
    auto stat = read_small_file(proc_root + "/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) continue;
    if (auto head = probes::parse_proc_stat(*stat); head && head->ppid) out[pid] = *head->ppid;
  }
  return out;
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<GuestProcesses> decode_guest_processes(std::string_view wire, const std::vector<std::string>& sandbox_containers,
                                              const GuestProcessLimits& limits) {
  if (wire.size() > limits.max_wire_bytes)
    return fail(ErrorCode::invalid_argument, "guest process list: " + std::to_string(wire.size()) + " bytes, more than the " +
                                                 std::to_string(limits.max_wire_bytes) + " allowed");
  v1::ListGuestProcessesResponse msg;
  if (!msg.ParseFromArray(wire.data(), int(wire.size())))
    return fail(ErrorCode::invalid_argument, "guest process list: not a ListGuestProcessesResponse");
  GuestProcesses out;
  out.truncated = msg.truncated();
  std::set<uint32_t> seen;
  bool agent_seen = false;
  for (const auto& p : msg.processes()) {
    if (out.rows.size() == limits.max_processes) {
      out.truncated = true;
      break;
    }
    if (p.pid() == 0 || p.pid() > kMaxPid || p.ppid() > kMaxPid || p.ppid() == p.pid() || !seen.insert(p.pid()).second) {
      ++out.refused;
      continue;
    }
    ProcessRow r;
    r.view = View::guest;
    r.pid = p.pid();
    r.ppid = p.ppid();
    r.name = bounded_text(p.comm(), limits.max_field_bytes);
    r.exepath = bounded_text(p.exepath(), limits.max_field_bytes);
    r.cmdline = joined_cmdline(p.args(), p.args_truncated(), limits.max_field_bytes, limits.max_cmdline_bytes);
    // Only this sandbox's containers, as its shim registered them; anything else is a lie.
    if (std::find(sandbox_containers.begin(), sandbox_containers.end(), p.container_id()) != sandbox_containers.end())
      r.container_id = p.container_id();
    // One agent, outside every container.
    if (p.agent() && !agent_seen && p.container_id().empty()) {
      r.role = "agent";
      agent_seen = true;
    }
    out.rows.push_back(std::move(r));
  }
  std::sort(out.rows.begin(), out.rows.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  // A container's first process: its parent is not in the same container.
  std::map<uint32_t, const ProcessRow*> by_pid;
  for (const auto& r : out.rows) by_pid[r.pid] = &r;
  for (auto& r : out.rows) {
    if (r.container_id.empty()) continue;
    auto parent = by_pid.find(r.ppid);
    if (parent == by_pid.end() || parent->second->container_id != r.container_id) r.role = "init";
  }
  return out;
}

std::vector<ProcessRow> host_processes(uint32_t vmm_pid, const std::vector<uint32_t>& helper_pids, const std::string& proc_root) {
  auto ppid_of = parents(proc_root);
  auto vmm = ppid_of.find(vmm_pid);
  if (vmm_pid == 0 || vmm == ppid_of.end()) return {};
  // The shim is the VMM's parent (unless the VMM was orphaned to init or a subreaper).
  uint32_t shim = vmm->second > 1 ? vmm->second : 0;
  std::set<uint32_t> roots(helper_pids.begin(), helper_pids.end());
  roots.insert(vmm_pid);
  if (shim) roots.insert(shim);
  std::set<uint32_t> chosen;
  for (const auto& [pid, ppid] : ppid_of) {
    // Walk up (bounded) until a root: everything under the shim, the VMM and the helpers.
    uint32_t cur = pid;
    for (int depth = 0; depth < 32 && cur > 1; ++depth) {
      if (roots.contains(cur)) {
        chosen.insert(pid);
        break;
      }
      auto it = ppid_of.find(cur);
      if (it == ppid_of.end()) break;
      cur = it->second;
    }
    if (chosen.size() == kMaxHostProcesses) break;
  }
  probes::ProcTable reader(1, proc_root);
  std::vector<ProcessRow> out;
  for (uint32_t pid : chosen) {
    auto e = reader.read_proc(pid);
    if (!e) continue;  // gone meanwhile
    ProcessRow r;
    r.view = View::host;
    r.pid = e->pid;
    r.ppid = e->ppid;
    r.name = bounded_text(e->name, 64);
    r.exepath = bounded_text(e->exepath, 256);
    r.cmdline = joined_cmdline(e->args, false, 256, 512);
    if (pid == vmm_pid)
      r.role = "vmm";
    else if (pid == shim)
      r.role = "shim";
    else if (basename_of(e->exepath).find("virtiofsd") != std::string::npos)
      r.role = "virtiofsd";
    else
      r.role = "helper";
    out.push_back(std::move(r));
  }
  return out;
}

SandboxProcesses join_processes(std::vector<ProcessRow> host, Result<GuestProcesses> guest, const LastAlerts& alerts) {
  SandboxProcesses out;
  out.rows = std::move(host);
  if (guest) {
    out.guest_truncated = guest->truncated;
    out.guest_refused = guest->refused;
    std::move(guest->rows.begin(), guest->rows.end(), std::back_inserter(out.rows));
  } else {
    out.guest_error = terminal_safe(guest.error().describe());
  }
  alerts.mark(out.rows);
  return out;
}

void LastAlerts::record(View view, uint32_t pid, const std::string& rule, policy::Priority priority, uint64_t time_ns) {
  if (pid == 0) return;
  Key key{view, pid};
  std::lock_guard lock(mu_);
  auto it = marks_.find(key);
  if (it != marks_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  } else {
    while (marks_.size() >= capacity_ && !lru_.empty()) {
      marks_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it = marks_.emplace(key, Mark{}).first;
    it->second.lru = lru_.begin();
  }
  it->second.rule = rule;
  it->second.priority = priority;
  it->second.time_ns = time_ns;
}

void LastAlerts::mark(std::vector<ProcessRow>& rows) const {
  std::lock_guard lock(mu_);
  for (auto& r : rows) {
    auto it = marks_.find({r.view, r.pid});
    if (it == marks_.end()) continue;
    r.last_alert = terminal_safe(it->second.rule);
    r.last_alert_priority = std::string(policy::priority_name(it->second.priority));
    r.last_alert_ns = it->second.time_ns;
  }
}

size_t LastAlerts::size() const {
  std::lock_guard lock(mu_);
  return marks_.size();
}

}  // namespace kata_sentry::daemon
