#include "core/event.h"

#include <array>
#include <unordered_map>

namespace kata_sentry {
namespace {

struct TypeInfo {
  EventType type;
  std::string_view name;
};

// Falco's names where Falco has the event; ours for LSM-level events.
constexpr std::array kTypes = {
    TypeInfo{EventType::execve, "execve"},
    TypeInfo{EventType::execveat, "execveat"},
    TypeInfo{EventType::clone, "clone"},
    TypeInfo{EventType::procexit, "procexit"},
    TypeInfo{EventType::openat, "openat"},
    TypeInfo{EventType::openat2, "openat2"},
    TypeInfo{EventType::unlinkat, "unlinkat"},
    TypeInfo{EventType::renameat, "renameat"},
    TypeInfo{EventType::chmod, "chmod"},
    TypeInfo{EventType::mknodat, "mknodat"},
    TypeInfo{EventType::open, "open"},
    TypeInfo{EventType::socket, "socket"},
    TypeInfo{EventType::connect, "connect"},
    TypeInfo{EventType::bind, "bind"},
    TypeInfo{EventType::listen, "listen"},
    TypeInfo{EventType::accept, "accept"},
    TypeInfo{EventType::ptrace, "ptrace"},
    TypeInfo{EventType::mount, "mount"},
    TypeInfo{EventType::umount, "umount"},
    TypeInfo{EventType::setns, "setns"},
    TypeInfo{EventType::unshare, "unshare"},
    TypeInfo{EventType::init_module, "init_module"},
    TypeInfo{EventType::finit_module, "finit_module"},
    TypeInfo{EventType::bpf, "bpf"},
    TypeInfo{EventType::kill, "kill"},
    TypeInfo{EventType::memfd_create, "memfd_create"},
    TypeInfo{EventType::symlinkat, "symlinkat"},
    TypeInfo{EventType::linkat, "linkat"},
    TypeInfo{EventType::dup, "dup"},
    TypeInfo{EventType::sendto, "sendto"},
    TypeInfo{EventType::lsm_file_open, "lsm_file_open"},
    TypeInfo{EventType::lsm_bprm_check, "lsm_bprm_check"},
    TypeInfo{EventType::lsm_kernel_read_file, "lsm_kernel_read_file"},
    TypeInfo{EventType::lsm_module_request, "lsm_module_request"},
    TypeInfo{EventType::lsm_ptrace_access, "lsm_ptrace_access"},
    TypeInfo{EventType::lsm_bpf, "lsm_bpf"},
    TypeInfo{EventType::lsm_task_kill, "lsm_task_kill"},
    TypeInfo{EventType::lsm_socket_connect, "lsm_socket_connect"},
    TypeInfo{EventType::lsm_inode_mknod, "lsm_inode_mknod"},
    TypeInfo{EventType::lsm_sb_mount, "lsm_sb_mount"},
    TypeInfo{EventType::cgroup_connect, "cgroup_connect"},
    TypeInfo{EventType::cgroup_device, "cgroup_device"},
    TypeInfo{EventType::mkdirat, "mkdirat"},
    TypeInfo{EventType::rmdir, "rmdir"},
    TypeInfo{EventType::setuid, "setuid"},
    TypeInfo{EventType::setgid, "setgid"},
    TypeInfo{EventType::setresuid, "setresuid"},
    TypeInfo{EventType::setresgid, "setresgid"},
    TypeInfo{EventType::capset, "capset"},
    TypeInfo{EventType::recvfrom, "recvfrom"},
    TypeInfo{EventType::userfaultfd, "userfaultfd"},
    TypeInfo{EventType::perf_event_open, "perf_event_open"},
    TypeInfo{EventType::open_by_handle_at, "open_by_handle_at"},
    TypeInfo{EventType::name_to_handle_at, "name_to_handle_at"},
    TypeInfo{EventType::keyctl, "keyctl"},
    TypeInfo{EventType::add_key, "add_key"},
    TypeInfo{EventType::request_key, "request_key"},
    TypeInfo{EventType::kexec_load, "kexec_load"},
    TypeInfo{EventType::kexec_file_load, "kexec_file_load"},
    TypeInfo{EventType::chroot, "chroot"},
    TypeInfo{EventType::pivot_root, "pivot_root"},
    TypeInfo{EventType::prctl, "prctl"},
    TypeInfo{EventType::process_vm_readv, "process_vm_readv"},
    TypeInfo{EventType::process_vm_writev, "process_vm_writev"},
    TypeInfo{EventType::io_uring_setup, "io_uring_setup"},
    TypeInfo{EventType::lsm_kernel_load_data, "lsm_kernel_load_data"},
    TypeInfo{EventType::lsm_anon_inode, "lsm_anon_inode"},
    TypeInfo{EventType::lsm_perf_event_open, "lsm_perf_event_open"},
    TypeInfo{EventType::lsm_userns_create, "lsm_userns_create"},
    TypeInfo{EventType::lsm_socket_create, "lsm_socket_create"},
    TypeInfo{EventType::lsm_sb_pivotroot, "lsm_sb_pivotroot"},
    TypeInfo{EventType::lsm_uring, "lsm_uring"},
};
static_assert(static_cast<size_t>(EventType::lsm_uring) < kEventTypeSlots);

struct ArgNames {
  EventType type;
  std::array<std::string_view, 4> names;
};

// Names of Event::arg[i] per type; they are the NAME of evt.arg.NAME / evt.rawarg.NAME.
constexpr std::array kArgNames = {
    ArgNames{EventType::execveat, {"dirfd", "flags"}},
    ArgNames{EventType::clone, {"child_pid", "flags"}},
    ArgNames{EventType::openat, {"flags", "mode", "dirfd"}},
    ArgNames{EventType::openat2, {"flags", "mode", "dirfd", "resolve"}},
    ArgNames{EventType::open, {"flags", "mode"}},
    ArgNames{EventType::unlinkat, {"flags", "dirfd"}},
    ArgNames{EventType::renameat, {"flags"}},
    ArgNames{EventType::chmod, {"mode"}},
    ArgNames{EventType::mknodat, {"mode", "dev"}},
    ArgNames{EventType::socket, {"domain", "type", "proto"}},
    ArgNames{EventType::connect, {"fd"}},
    ArgNames{EventType::bind, {"fd"}},
    ArgNames{EventType::listen, {"fd", "backlog"}},
    ArgNames{EventType::accept, {"fd", "flags"}},
    ArgNames{EventType::ptrace, {"request", "pid"}},
    ArgNames{EventType::mount, {"flags"}},
    ArgNames{EventType::umount, {"flags"}},
    ArgNames{EventType::setns, {"fd", "nstype"}},
    ArgNames{EventType::unshare, {"flags"}},
    ArgNames{EventType::init_module, {"len"}},
    ArgNames{EventType::finit_module, {"fd", "flags"}},
    ArgNames{EventType::bpf, {"cmd"}},
    ArgNames{EventType::kill, {"pid", "sig"}},
    ArgNames{EventType::memfd_create, {"flags"}},
    ArgNames{EventType::linkat, {"flags"}},
    ArgNames{EventType::dup, {"oldfd", "newfd"}},
    ArgNames{EventType::sendto, {"fd", "size"}},
    ArgNames{EventType::lsm_file_open, {"flags", "mode"}},
    ArgNames{EventType::lsm_kernel_read_file, {"id"}},
    ArgNames{EventType::lsm_ptrace_access, {"mode", "pid"}},
    ArgNames{EventType::lsm_bpf, {"cmd"}},
    ArgNames{EventType::lsm_task_kill, {"pid", "sig"}},
    ArgNames{EventType::lsm_socket_connect, {"fd"}},
    ArgNames{EventType::lsm_inode_mknod, {"mode", "dev"}},
    ArgNames{EventType::lsm_sb_mount, {"flags"}},
    ArgNames{EventType::cgroup_connect, {"hook", "sock_type", "unused", "rule"}},
    ArgNames{EventType::cgroup_device, {"access", "major", "minor", "rule"}},
    ArgNames{EventType::mkdirat, {"mode", "dirfd"}},
    ArgNames{EventType::setuid, {"uid"}},
    ArgNames{EventType::setgid, {"gid"}},
    ArgNames{EventType::setresuid, {"ruid", "euid", "suid"}},
    ArgNames{EventType::setresgid, {"rgid", "egid", "sgid"}},
    ArgNames{EventType::capset, {"cap_effective", "cap_permitted", "cap_inheritable"}},
    ArgNames{EventType::recvfrom, {"fd", "size"}},
    ArgNames{EventType::userfaultfd, {"flags"}},
    ArgNames{EventType::perf_event_open, {"type", "pid", "cpu", "flags"}},
    ArgNames{EventType::open_by_handle_at, {"mountfd", "flags"}},
    ArgNames{EventType::name_to_handle_at, {"dirfd", "flags"}},
    ArgNames{EventType::keyctl, {"operation", "arg2"}},
    ArgNames{EventType::add_key, {"keyring"}},
    ArgNames{EventType::request_key, {"keyring"}},
    ArgNames{EventType::kexec_load, {"nr_segments", "flags"}},
    ArgNames{EventType::kexec_file_load, {"kernel_fd", "initrd_fd", "flags"}},
    ArgNames{EventType::prctl, {"option", "arg2"}},
    ArgNames{EventType::process_vm_readv, {"pid"}},
    ArgNames{EventType::process_vm_writev, {"pid"}},
    ArgNames{EventType::io_uring_setup, {"entries", "flags"}},
    ArgNames{EventType::lsm_kernel_load_data, {"id"}},
    ArgNames{EventType::lsm_perf_event_open, {"type"}},
    ArgNames{EventType::lsm_socket_create, {"domain", "type", "proto"}},
    ArgNames{EventType::lsm_uring, {"op"}},
    // The hook has no flags; the record says which namespace, as unshare's does, so that one
    // rule (evt.arg.flags contains CLONE_NEWUSER) matches the syscall and the hook alike.
    ArgNames{EventType::lsm_userns_create, {"flags"}},
};

}  // namespace

std::string_view event_type_name(EventType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return {};
}

std::optional<EventType> event_type_from_name(std::string_view name) {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string_view, EventType>;
    for (const auto& t : kTypes) m->emplace(t.name, t.type);
    return m;
  }();
  auto it = index->find(name);
  if (it == index->end()) return std::nullopt;
  return it->second;
}

const std::vector<EventType>& all_event_types() {
  static const std::vector<EventType> all = [] {
    std::vector<EventType> v;
    for (const auto& t : kTypes) v.push_back(t.type);
    return v;
  }();
  return all;
}

std::span<const std::string_view> event_arg_names(EventType type) {
  for (const auto& a : kArgNames) {
    if (a.type != type) continue;
    size_t n = 0;
    while (n < a.names.size() && !a.names[n].empty()) ++n;
    return {a.names.data(), n};
  }
  return {};
}

std::optional<size_t> event_arg_index(EventType type, std::string_view name) {
  auto names = event_arg_names(type);
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return i;
  return std::nullopt;
}

std::string_view view_name(View view) { return view == View::guest ? "guest" : "host"; }

std::optional<View> view_from_name(std::string_view name) {
  if (name == "host") return View::host;
  if (name == "guest") return View::guest;
  return std::nullopt;
}

std::string ProcessContext::cmdline() const {
  std::string out = name;
  for (const auto& a : args) {
    out += ' ';
    out += a;
  }
  if (args_truncated) out += " ...";
  return out;
}

bool FileObject::is_device() const {
  uint32_t type = mode & 0170000;
  return type == 0020000 || type == 0060000;
}

}  // namespace kata_sentry
