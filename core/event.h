// The one domain type every component works on: rules, correlation, audit, export and
// kata-trace all take an Event. BPF records (bpf/include/kata_sentry/event_abi.h) are
// decoded into it once (core/event_decode.h); the wire form is proto/event.proto
// (proto/event_convert.h); the JSON-lines form keys fields by Falco's names
// (core/event_json.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kata_sentry {

// Mirrors enum ks_event_type; the values are the ABI values.
enum class EventType : uint16_t {
  none = 0,
  execve = 1,
  execveat = 2,
  clone = 3,
  procexit = 4,
  openat = 10,
  openat2 = 11,
  unlinkat = 12,
  renameat = 13,
  chmod = 14,
  mknodat = 15,
  open = 16,
  socket = 20,
  connect = 21,
  bind = 22,
  listen = 23,
  accept = 24,
  ptrace = 30,
  mount = 31,
  umount = 32,
  setns = 33,
  unshare = 34,
  init_module = 35,
  finit_module = 36,
  bpf = 37,
  kill = 38,
  memfd_create = 39,
  symlinkat = 40,
  linkat = 41,
  dup = 42,
  sendto = 43,
  lsm_file_open = 50,
  lsm_bprm_check = 51,
  lsm_kernel_read_file = 52,
  lsm_module_request = 53,
  lsm_ptrace_access = 54,
  lsm_bpf = 55,
  lsm_task_kill = 56,
  lsm_socket_connect = 57,
  lsm_inode_mknod = 58,
  lsm_sb_mount = 59,
  cgroup_connect = 60,  // refused by a host cgroup program (connect4/6, sendmsg4/6)
  cgroup_device = 61,   // refused by the host cgroup/dev program
};

// Falco's name for the type ("execve", "openat", "procexit", ...); "" for none/unknown.
std::string_view event_type_name(EventType type);
// Inverse of event_type_name; nullopt for a name no probe produces.
std::optional<EventType> event_type_from_name(std::string_view name);
// Every type that has a name, in ABI order.
const std::vector<EventType>& all_event_types();
// Names of Event::arg[i] for a type: the NAME in evt.arg.NAME and evt.rawarg.NAME.
std::span<const std::string_view> event_arg_names(EventType type);
std::optional<size_t> event_arg_index(EventType type, std::string_view name);

enum class View : uint8_t { host = 0, guest = 1 };
std::string_view view_name(View view);
std::optional<View> view_from_name(std::string_view name);

// One ancestor of the acting process, nearest first (parent = ancestors[0]).
struct Ancestor {
  uint32_t pid = 0;
  std::string name;     // comm
  std::string exepath;
  std::string cmdline;  // "name arg1 arg2", Falco's proc.cmdline form

  bool operator==(const Ancestor&) const = default;
};

// The acting process. Fields the probe did not carry are filled from the process
// table (host-probes/proc_table.h) or stay empty; empty means "unknown", not "".
struct ProcessContext {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t loginuid = UINT32_MAX;  // UINT32_MAX = not set (Falco: -1)
  uint64_t cgroup_id = 0;
  uint32_t pid_ns = 0;
  uint32_t mnt_ns = 0;
  std::string name;             // proc.name: comm (after exec: the new image's name)
  std::string exepath;          // proc.exepath
  std::vector<std::string> args;  // proc.args split; args[0] excluded (Falco's proc.args)
  std::string pname;            // proc.pname (parent's comm)
  std::vector<Ancestor> ancestors;  // proc.aname[N] = ancestors[N-1].name
  bool is_agent = false;        // guest: task marked as the agent's own

  // Falco's proc.cmdline: name followed by the args, space-separated.
  std::string cmdline() const;

  bool operator==(const ProcessContext&) const = default;
};

struct SocketAddress {
  uint16_t family = 0;   // AF_* value; 0 = none
  uint16_t port = 0;
  uint32_t vsock_cid = 0;
  std::string ip;        // textual IPv4/IPv6, "" when not an IP family

  bool operator==(const SocketAddress&) const = default;
};

struct Event {
  EventType type = EventType::none;
  View view = View::host;
  uint64_t time_ns = 0;      // wall clock, ns since the Unix epoch, of the side that saw it
  // When the host received the event (wall clock, ns since the epoch); for host-view events
  // the same as time_ns. A guest's clock is its own to set, so cross-view ordering (sequence
  // windows) uses this, never time_ns.
  uint64_t host_time_ns = 0;
  bool has_res = false;      // false: the result is unknown (evt.res is then absent)
  int64_t res = 0;           // syscall result (negative errno on failure); exit: status
  uint32_t flags = 0;        // ks_event_flags
  std::string sandbox_id;    // set by the host from what it knows, never by the guest
  std::string sandbox_name;
  uint32_t vmm_pid = 0;      // 0 = the event does not come from a sandbox's VMM scope
  std::string container_id;  // container inside the sandbox; "" = host / not in one
  std::string pod_name;      // k8s.pod.name
  std::string pod_namespace; // k8s.ns.name
  ProcessContext proc;
  std::string path;          // fd.name for file events, exec filename, mount source
  std::string path2;         // rename target, mount target
  std::string fstype;        // mount only
  std::vector<uint64_t> arg; // type-specific numbers (see enum ks_event_type)
  SocketAddress addr;

  uint64_t arg_or(size_t index, uint64_t fallback = 0) const {
    return index < arg.size() ? arg[index] : fallback;
  }
  bool operator==(const Event&) const = default;
};

}  // namespace kata_sentry
