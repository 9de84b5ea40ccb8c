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
  mkdirat = 64,
  rmdir = 65,
  setuid = 66,
  setgid = 67,
  setresuid = 68,
  setresgid = 69,
  capset = 70,
  recvfrom = 71,
  userfaultfd = 72,
  perf_event_open = 73,
  open_by_handle_at = 74,
  name_to_handle_at = 75,
  keyctl = 76,
  add_key = 77,
  request_key = 78,
  kexec_load = 79,
  kexec_file_load = 80,
  chroot = 81,
  pivot_root = 82,
  prctl = 83,
  process_vm_readv = 84,
  process_vm_writev = 85,
  io_uring_setup = 86,
  lsm_kernel_load_data = 96,
  lsm_anon_inode = 97,
  lsm_perf_event_open = 98,
  lsm_userns_create = 99,
  lsm_socket_create = 100,
  lsm_sb_pivotroot = 101,
  lsm_uring = 102,
};

// Every EventType value is below this (KS_EVT_MAX): per-type tables and bit sets use it.
inline constexpr size_t kEventTypeSlots = 128;

// A record of a BPF LSM hook (lsm_*), as opposed to a syscall or a host cgroup program.
constexpr bool is_lsm_type(EventType t) {
  auto v = static_cast<uint16_t>(t);
  return (v >= 50 && v <= 59) || (v >= 96 && v < kEventTypeSlots);
}

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

// A thread's capability sets (bit N = capability N, as in <linux/capability.h>).
struct CapabilitySets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;

  bool operator==(const CapabilitySets&) const = default;
};

// The acting process. Fields the probe did not carry are filled from the process
// table (syscall-probes/proc_table.h) or stay empty; empty means "unknown", not "".
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
  bool args_truncated = false;  // argv was longer than a record holds: args is its start
  std::string cwd;              // proc.cwd: the working directory when the image was exec'd
  std::vector<std::string> env;  // proc.env: NAME=value, exec events only (bounded)
  bool env_truncated = false;
  bool exe_deleted = false;     // the executable had no link left when exec'd (deleted, memfd)
  std::optional<CapabilitySets> caps;  // at the time of the event; unknown for old records

  // Falco's proc.cmdline: name followed by the args, space-separated; " ..." when argv was
  // cut to fit.
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

// What a file event's object is, whatever name reached it (LSM hooks hold the inode).
// mode == 0: unknown.
struct FileObject {
  uint64_t ino = 0;
  uint32_t dev_major = 0;   // the file system holding it
  uint32_t dev_minor = 0;
  uint32_t rdev_major = 0;  // a device node: the device it stands for (mknod: the one asked for)
  uint32_t rdev_minor = 0;
  uint32_t mode = 0;        // file type and permission bits (S_IFCHR|0600, ...)
  uint32_t nlink = 0;       // 0: deleted, or never had a name (memfd)
  uint32_t fs_magic = 0;    // the file system holding it (statfs f_type: nsfs, proc, ...)

  bool known() const { return mode != 0; }
  bool is_device() const;   // a char or block device node
  bool operator==(const FileObject&) const = default;
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
  std::string pod_uid;       // k8s.pod.uid
  ProcessContext proc;
  std::string path;          // fd.name for file events, exec filename, mount source
  std::string path2;         // rename target, mount target
  std::string fstype;        // mount only
  std::vector<uint64_t> arg; // type-specific numbers (see enum ks_event_type)
  SocketAddress addr;
  FileObject file;
  // The syscall an LSM hook ran in (x86-64 number: an open_by_handle_at's file_open, an
  // io_uring_enter's); -1 outside any (an io_uring worker); nullopt when not recorded.
  std::optional<int32_t> syscall;

  uint64_t arg_or(size_t index, uint64_t fallback = 0) const {
    return index < arg.size() ? arg[index] : fallback;
  }
  bool operator==(const Event&) const = default;
};

}  // namespace kata_sentry
