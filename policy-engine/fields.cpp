#include "policy-engine/fields.h"

#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "core/capability_names.h"
#include "core/event_json.h"
#include "kata_sentry/event_abi.h"
#include "policy-engine/enforcement_spec.h"

namespace kata_sentry::policy {
namespace {

using T = EventType;

bool is_open(T t) { return t == T::open || t == T::openat || t == T::openat2 || t == T::lsm_file_open; }
bool is_file(T t) {
  switch (t) {
    case T::open: case T::openat: case T::openat2: case T::lsm_file_open: case T::unlinkat:
    case T::renameat: case T::chmod: case T::mknodat: case T::symlinkat: case T::linkat:
    case T::lsm_inode_mknod: case T::memfd_create: case T::mkdirat: case T::rmdir:
    case T::name_to_handle_at: case T::chroot: case T::lsm_anon_inode: case T::io_uring_setup: case T::userfaultfd:
      return true;
    default:
      return false;
  }
}
bool has_socket(const Event& e) { return e.addr.family != 0; }

bool set_str(Value& out, std::string_view s) {
  out.str = s;
  return true;
}
bool set_own(Value& out, std::string s) {
  out.scratch = std::move(s);
  out.str = out.scratch;
  return true;
}
bool set_num(Value& out, int64_t n) {
  out.num = n;
  return true;
}
bool nonempty(Value& out, std::string_view s) { return !s.empty() && set_str(out, s); }

const Event& ev(const EvalInput& in) { return *in.event; }
template <typename M>
bool extra_str(const EvalInput& in, M member, Value& out) {
  if (!in.extra || !(in.extra->*member)) return false;
  return set_str(out, *(in.extra->*member));
}
template <typename M>
bool extra_num(const EvalInput& in, M member, Value& out) {
  if (!in.extra || !(in.extra->*member)) return false;
  return set_num(out, static_cast<int64_t>(*(in.extra->*member)));
}

const std::string& hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return std::string("<NA>");
    return std::string(buf);
  }();
  return name;
}

// --- event argument rendering (evt.arg.NAME) ---

enum ArgFormat : uint8_t { kDec, kOpenFlags, kMode, kNodeMode, kPtraceReq, kSockDomain, kSockType, kSignal, kCloneFlags, kBpfCmd, kCaps, kPtraceMode, kString };
constexpr int8_t kPath = 100, kPath2 = 101, kFstype = 102;

// Names of argument values, as Falco renders them; one table per kind, used both ways (render
// and, for deny rules, name -> value: arg_symbol_value).
struct Sym {
  std::string_view name;
  uint64_t value;
};
constexpr Sym kPtraceRequestSyms[] = {
    {"PTRACE_TRACEME", 0}, {"PTRACE_PEEKTEXT", 1}, {"PTRACE_PEEKDATA", 2}, {"PTRACE_PEEKUSR", 3},
    {"PTRACE_POKETEXT", 4}, {"PTRACE_POKEDATA", 5}, {"PTRACE_POKEUSR", 6}, {"PTRACE_CONT", 7},
    {"PTRACE_KILL", 8}, {"PTRACE_SINGLESTEP", 9}, {"PTRACE_GETREGS", 12}, {"PTRACE_SETREGS", 13},
    {"PTRACE_ATTACH", 16}, {"PTRACE_DETACH", 17}, {"PTRACE_SYSCALL", 24}, {"PTRACE_SETOPTIONS", 0x4200},
    {"PTRACE_SEIZE", 0x4206}, {"PTRACE_INTERRUPT", 0x4207}, {"PTRACE_LISTEN", 0x4208}};
constexpr Sym kSockDomainSyms[] = {{"AF_UNIX", AF_UNIX},       {"AF_INET", AF_INET},       {"AF_INET6", AF_INET6},
                                {"AF_NETLINK", AF_NETLINK}, {"AF_PACKET", AF_PACKET},   {"AF_VSOCK", AF_VSOCK},
                                {"AF_BLUETOOTH", AF_BLUETOOTH}, {"AF_CAN", AF_CAN},     {"AF_ALG", AF_ALG},
                                {"AF_XDP", AF_XDP},         {"AF_KEY", AF_KEY},         {"AF_TIPC", AF_TIPC},
                                {"AF_RDS", AF_RDS},         {"AF_SMC", AF_SMC},         {"AF_NFC", AF_NFC}};
constexpr Sym kSockTypeSyms[] = {{"SOCK_STREAM", SOCK_STREAM}, {"SOCK_DGRAM", SOCK_DGRAM}, {"SOCK_RAW", SOCK_RAW},
                              {"SOCK_SEQPACKET", SOCK_SEQPACKET}};
constexpr Sym kCloneFlagSyms[] = {
    {"CLONE_NEWNS", 0x00020000}, {"CLONE_NEWCGROUP", 0x02000000}, {"CLONE_NEWUTS", 0x04000000},
    {"CLONE_NEWIPC", 0x08000000}, {"CLONE_NEWUSER", 0x10000000}, {"CLONE_NEWPID", 0x20000000},
    {"CLONE_NEWNET", 0x40000000}, {"CLONE_NEWTIME", 0x00000080}, {"CLONE_VM", 0x00000100},
    {"CLONE_FS", 0x00000200}, {"CLONE_FILES", 0x00000400}, {"CLONE_THREAD", 0x00010000}};
// ptrace_access_check's mode (include/linux/ptrace.h).
constexpr Sym kPtraceModeSyms[] = {{"PTRACE_MODE_READ", 0x01}, {"PTRACE_MODE_ATTACH", 0x02}, {"PTRACE_MODE_NOAUDIT", 0x04},
                                {"PTRACE_MODE_FSCREDS", 0x08}, {"PTRACE_MODE_REALCREDS", 0x10}};

std::string_view symbol_name(std::span<const Sym> table, uint64_t v) {
  for (const auto& s : table)
    if (s.value == v) return s.name;
  return {};
}
std::string name_of(std::span<const Sym> table, uint64_t v) {
  std::string_view n = symbol_name(table, v);
  return n.empty() ? std::to_string(v) : std::string(n);
}
std::string bits_of(std::span<const Sym> table, uint64_t v) {
  std::string out;
  for (const auto& s : table) {
    if (!(v & s.value)) continue;
    if (!out.empty()) out += '|';
    out += s.name;
  }
  return out.empty() ? "0" : out;
}

std::string ptrace_request_name(uint64_t r) { return name_of(kPtraceRequestSyms, r); }
std::string sock_domain_name(uint64_t d) { return name_of(kSockDomainSyms, d); }
std::string sock_type_name(uint64_t t) { return name_of(kSockTypeSyms, t & 0xf); }
std::string clone_flags_text(uint64_t f) { return bits_of(kCloneFlagSyms, f); }
std::string bpf_cmd_name(uint64_t c) {
  static const char* kNames[] = {"BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM",
                                 "BPF_MAP_DELETE_ELEM", "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD",
                                 "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH", "BPF_PROG_DETACH"};
  return c < std::size(kNames) ? kNames[c] : std::to_string(c);
}
std::string signal_text(uint64_t s) {
  const char* n = sigabbrev_np(static_cast<int>(s));
  return n ? std::string("SIG") + n : std::to_string(s);
}

std::string render_arg(uint8_t fmt, uint64_t v) {
  switch (fmt) {
    case kOpenFlags: return format_open_flags(v);
    case kMode: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0%llo", static_cast<unsigned long long>(v));
      return buf;
    }
    case kNodeMode: {
      // mknod: the file type by name, then the permission bits (S_IFBLK|0660)
      const char* kind = (v & 0170000) == 0060000 ? "S_IFBLK" : (v & 0170000) == 0020000 ? "S_IFCHR"
                       : (v & 0170000) == 0010000 ? "S_IFIFO" : (v & 0170000) == 0140000 ? "S_IFSOCK" : "S_IFREG";
      char buf[48];
      std::snprintf(buf, sizeof buf, "%s|0%llo", kind, static_cast<unsigned long long>(v & 07777));
      return buf;
    }
    case kPtraceReq: return ptrace_request_name(v);
    case kSockDomain: return sock_domain_name(v);
    case kSockType: return sock_type_name(v);
    case kSignal: return signal_text(v);
    case kCloneFlags: return clone_flags_text(v);
    case kBpfCmd: return bpf_cmd_name(v);
    case kCaps: return capability_set_text(v);
    case kPtraceMode: return bits_of(kPtraceModeSyms, v);
    default: return std::to_string(static_cast<int64_t>(v));
  }
}

uint8_t format_for(T t, std::string_view name) {
  if (name == "flags" && is_open(t)) return kOpenFlags;
  if (name == "flags" && (t == T::unshare || t == T::clone || t == T::lsm_userns_create)) return kCloneFlags;
  if (name == "mode" && t == T::lsm_ptrace_access) return kPtraceMode;
  if (name == "nstype") return kCloneFlags;
  if (name == "mode" && (t == T::mknodat || t == T::lsm_inode_mknod)) return kNodeMode;
  if (name == "mode") return kMode;
  if (name == "request") return kPtraceReq;
  if (name == "domain") return kSockDomain;
  if (name == "type" && (t == T::socket || t == T::lsm_socket_create)) return kSockType;
  if (t == T::capset) return kCaps;
  if (name == "sig") return kSignal;
  if (name == "cmd") return kBpfCmd;
  return kDec;
}

// String arguments live in Event::path/path2/fstype; their Falco names per type.
int8_t string_slot(T t, std::string_view name) {
  switch (t) {
    case T::symlinkat:
      return name == "target" ? kPath : name == "linkpath" ? kPath2 : -1;
    case T::linkat: case T::renameat:
      return name == "oldpath" ? kPath : name == "newpath" ? kPath2 : -1;
    case T::mount: case T::lsm_sb_mount:
      return name == "dev" ? kPath : name == "dir" ? kPath2 : name == "type" ? kFstype : -1;
    case T::umount:
      return name == "name" || name == "dir" ? kPath : -1;
    case T::execve: case T::execveat: case T::lsm_bprm_check:
      return name == "filename" ? kPath : -1;
    case T::memfd_create: case T::lsm_anon_inode:
      return name == "name" ? kPath : -1;
    case T::add_key: case T::request_key:
      return name == "type" ? kPath : name == "description" ? kPath2 : -1;
    case T::pivot_root: case T::lsm_sb_pivotroot:
      return name == "new_root" ? kPath : name == "put_old" ? kPath2 : -1;
    default:
      if (is_file(t) && (name == "name" || name == "path" || name == "pathname")) return kPath;
      return -1;
  }
}

bool get_event_arg(const EvalInput& in, const FieldRef& ref, int, Value& out) {
  const Event& e = ev(in);
  auto t = static_cast<size_t>(e.type);
  if (t >= ref.arg_slot.size()) return false;
  int8_t slot = ref.arg_slot[t];
  if (slot < 0) return false;
  if (slot >= kPath) {
    if (ref.raw) return false;
    const std::string& s = slot == kPath ? e.path : slot == kPath2 ? e.path2 : e.fstype;
    return set_str(out, s);
  }
  if (static_cast<size_t>(slot) >= e.arg.size()) return false;
  uint64_t v = e.arg[slot];
  if (ref.raw) return set_num(out, static_cast<int64_t>(v));
  // A value with a name of its own (PTRACE_ATTACH, AF_INET) is a view of the table: rules
  // test these on every ptrace or socket event, several times, and need no copy.
  std::string_view name;
  switch (ref.arg_fmt[t]) {
    case kPtraceReq: name = symbol_name(kPtraceRequestSyms, v); break;
    case kSockDomain: name = symbol_name(kSockDomainSyms, v); break;
    case kSockType: name = symbol_name(kSockTypeSyms, v & 0xf); break;
    default: break;
  }
  if (!name.empty()) return set_str(out, name);
  return set_own(out, render_arg(ref.arg_fmt[t], v));
}

bool get_evt_args(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  std::string s;
  auto names = event_arg_names(e.type);
  for (size_t i = 0; i < names.size() && i < e.arg.size(); ++i) {
    if (!s.empty()) s += ' ';
    s += std::string(names[i]) + "=" + render_arg(format_for(e.type, names[i]), e.arg[i]);
  }
  if (!e.path.empty()) s += (s.empty() ? "" : " ") + std::string("path=") + e.path;
  if (!e.path2.empty()) s += " path2=" + e.path2;
  return set_own(out, std::move(s));
}

// --- process lineage ---

const Ancestor* ancestor(const Event& e, int n) {
  if (n < 1 || static_cast<size_t>(n) > e.proc.ancestors.size()) return nullptr;
  return &e.proc.ancestors[n - 1];
}
bool get_aname(const EvalInput& in, const FieldRef&, int n, Value& out) {
  if (n == 0) return nonempty(out, ev(in).proc.name);
  if (n == 1 && !ev(in).proc.pname.empty()) return set_str(out, ev(in).proc.pname);
  const Ancestor* a = ancestor(ev(in), n);
  return a && nonempty(out, a->name);
}
bool get_aexepath(const EvalInput& in, const FieldRef&, int n, Value& out) {
  if (n == 0) return nonempty(out, ev(in).proc.exepath);
  const Ancestor* a = ancestor(ev(in), n);
  return a && nonempty(out, a->exepath);
}
bool get_acmdline(const EvalInput& in, const FieldRef&, int n, Value& out) {
  if (n == 0) return set_own(out, ev(in).proc.cmdline());
  const Ancestor* a = ancestor(ev(in), n);
  return a && nonempty(out, a->cmdline);
}
bool get_apid(const EvalInput& in, const FieldRef&, int n, Value& out) {
  if (n == 0) return set_num(out, ev(in).proc.pid);
  const Ancestor* a = ancestor(ev(in), n);
  return a && set_num(out, a->pid);
}

bool get_env(const EvalInput& in, const FieldRef& ref, int, Value& out) {
  const auto& env = ev(in).proc.env;
  if (env.empty()) return false;
  if (!ref.arg_name.empty()) {
    const std::string& name = ref.arg_name;
    for (const auto& v : env)
      if (v.size() > name.size() && v[name.size()] == '=' && v.starts_with(name))
        return set_str(out, std::string_view(v).substr(name.size() + 1));
    return false;
  }
  std::string s;
  for (const auto& v : env) {
    if (!s.empty()) s += ' ';
    s += v;
  }
  return set_own(out, std::move(s));
}

// --- container mounts (Falco's container.mount* family) ---

std::string mount_text(const ContainerMount& m) {
  return m.source + ":" + m.dest + ":" + m.mode + ":" + (m.rw ? "true" : "false") + ":" + m.propagation;
}
std::string mounts_text(const std::vector<ContainerMount>& mounts) {
  std::string s;
  for (const auto& m : mounts) {
    if (!s.empty()) s += ' ';
    s += mount_text(m);
  }
  return s;
}
// container.mount*[KEY]: KEY is an index, or a glob over the mount's source (over its
// destination when `by_dest`). The first match wins, as Falco.
const ContainerMount* find_mount(const std::vector<ContainerMount>& mounts, const std::string& key, bool by_dest) {
  if (key.empty()) return nullptr;
  if (std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    size_t i = key.size() > 6 ? SIZE_MAX : std::stoul(key);
    return i < mounts.size() ? &mounts[i] : nullptr;
  }
  for (const auto& m : mounts)
    if (fnmatch(key.c_str(), (by_dest ? m.dest : m.source).c_str(), 0) == 0) return &m;
  return nullptr;
}
// Which part of a mount a container.mount* field shows.
enum class MountPart : uint8_t { all, source, dest, mode, rdwr, propagation };
// "N/A" (Falco's rules test `not ... in ("<NA>","N/A")`) when no mount matches or the
// container's mounts are unknown: a missing spec must not read as a sensitive mount.
template <MountPart part>
bool get_mount(const EvalInput& in, const FieldRef& ref, int, Value& out) {
  if (ev(in).container_id.empty()) return false;  // not in a container
  const ContainerMount* m = nullptr;
  if (in.extra && in.extra->mounts) m = find_mount(*in.extra->mounts, ref.arg_name, part == MountPart::source);
  if (!m) return set_str(out, part == MountPart::all ? "none" : "N/A");
  switch (part) {
    case MountPart::all: return set_own(out, mount_text(*m));
    case MountPart::source: return set_str(out, m->source);
    case MountPart::dest: return set_str(out, m->dest);
    case MountPart::mode: return set_str(out, m->mode);
    case MountPart::rdwr: return set_str(out, m->rw ? "true" : "false");
    case MountPart::propagation: return set_str(out, m->propagation);
  }
  return false;
}

bool get_args(const EvalInput& in, const FieldRef&, int, Value& out) {
  const auto& args = ev(in).proc.args;
  if (args.size() == 1) return set_str(out, args[0]);
  std::string s;
  for (const auto& a : args) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return set_own(out, std::move(s));
}

// --- fds ---

bool get_fd_num(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  switch (e.type) {
    case T::open: case T::openat: case T::openat2: case T::accept: case T::dup: case T::open_by_handle_at:
    case T::userfaultfd: case T::io_uring_setup: case T::socket:
      if (!e.has_res) return false;
      return set_num(out, e.res < 0 ? -1 : e.res);
    case T::connect: case T::bind: case T::listen: case T::sendto: case T::recvfrom: case T::lsm_socket_connect:
      return !e.arg.empty() && set_num(out, static_cast<int64_t>(e.arg[0]));
    default:
      return false;
  }
}
std::string addr_text(const Event& e) {
  if (e.addr.family == AF_VSOCK) return "vsock:" + std::to_string(e.addr.vsock_cid) + ":" + std::to_string(e.addr.port);
  if (e.addr.ip.empty()) return "";
  if (e.addr.family == AF_INET6) return "[" + e.addr.ip + "]:" + std::to_string(e.addr.port);
  return e.addr.ip + ":" + std::to_string(e.addr.port);
}
bool get_fd_name(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  if (is_file(e.type)) return set_str(out, e.path);
  if (has_socket(e)) {
    if (e.addr.family == AF_UNIX) return set_str(out, e.path);
    return set_own(out, addr_text(e));
  }
  return false;
}
bool get_fd_directory(const EvalInput& in, const FieldRef& r, int i, Value& out) {
  if (!is_file(ev(in).type)) return false;
  std::string_view p = ev(in).path;
  auto slash = p.rfind('/');
  if (slash == std::string_view::npos) return false;
  return set_str(out, slash == 0 ? p.substr(0, 1) : p.substr(0, slash));
}
bool get_fd_filename(const EvalInput& in, const FieldRef&, int, Value& out) {
  if (!is_file(ev(in).type)) return false;
  std::string_view p = ev(in).path;
  auto slash = p.rfind('/');
  return set_str(out, slash == std::string_view::npos ? p : p.substr(slash + 1));
}
const char* socket_type_name(const Event& e) {
  switch (e.addr.family) {
    case AF_INET: return "ipv4";
    case AF_INET6: return "ipv6";
    case AF_UNIX: return "unix";
    case AF_VSOCK: return "vsock";
    default: return "socket";
  }
}
bool get_fd_type(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  if (has_socket(e)) return set_str(out, socket_type_name(e));
  if (is_file(e.type)) return set_str(out, "file");
  return false;
}
bool get_fd_typechar(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  if (has_socket(e)) {
    switch (e.addr.family) {
      case AF_INET: return set_str(out, "4");
      case AF_INET6: return set_str(out, "6");
      case AF_UNIX: return set_str(out, "u");
      case AF_VSOCK: return set_str(out, "v");
      default: return set_str(out, "s");
    }
  }
  if (is_file(e.type)) return set_str(out, "f");
  return false;
}
bool is_ip(const Event& e) { return (e.addr.family == AF_INET || e.addr.family == AF_INET6) && !e.addr.ip.empty(); }
// Which side the event's one address is: connect/sendto give the server, accept and recvfrom
// the client (the peer that connected or sent), bind the local (server) side.
bool addr_is_server(const Event& e) { return e.type != T::accept && e.type != T::recvfrom; }
bool get_sip(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return is_ip(e) && addr_is_server(e) && set_str(out, e.addr.ip);
}
bool get_cip(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return is_ip(e) && !addr_is_server(e) && set_str(out, e.addr.ip);
}
bool get_ip(const EvalInput& in, const FieldRef&, int, Value& out) {
  return is_ip(ev(in)) && set_str(out, ev(in).addr.ip);
}
bool get_rip(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return is_ip(e) && e.type != T::bind && set_str(out, e.addr.ip);
}
bool get_lip(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return is_ip(e) && e.type == T::bind && set_str(out, e.addr.ip);
}
bool get_sport(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return has_socket(e) && addr_is_server(e) && e.addr.family != AF_UNIX && set_num(out, e.addr.port);
}
bool get_cport(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return has_socket(e) && !addr_is_server(e) && set_num(out, e.addr.port);
}
bool get_rport(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return has_socket(e) && e.type != T::bind && e.addr.family != AF_UNIX && set_num(out, e.addr.port);
}
bool get_lport(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return has_socket(e) && e.type == T::bind && set_num(out, e.addr.port);
}
bool get_port(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  return has_socket(e) && e.addr.family != AF_UNIX && set_num(out, e.addr.port);
}
bool get_sockfamily(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  if (!has_socket(e)) return false;
  return set_str(out, is_ip(e) ? "ip" : e.addr.family == AF_UNIX ? "unix" : e.addr.family == AF_VSOCK ? "vsock" : "other");
}

bool get_user_name(const EvalInput& in, const FieldRef&, int, Value& out) {
  if (in.extra && in.extra->user_name) return set_str(out, *in.extra->user_name);
  // uid 0 is root in every passwd; other names need the container's passwd (enrichment).
  return ev(in).proc.uid == 0 && set_str(out, "root");
}
bool get_group_name(const EvalInput& in, const FieldRef&, int, Value& out) {
  if (in.extra && in.extra->group_name) return set_str(out, *in.extra->group_name);
  return ev(in).proc.gid == 0 && set_str(out, "root");
}

bool never(const EvalInput&, const FieldRef&, int, Value&) { return false; }

bool get_evt_res(const EvalInput& in, const FieldRef&, int, Value& out) {
  const Event& e = ev(in);
  if (!e.has_res) return false;
  if (e.res >= 0) return set_str(out, "SUCCESS");
  std::string_view n = errno_name(-e.res);
  return n.empty() ? set_own(out, std::to_string(e.res)) : set_str(out, n);
}
bool open_flags(const Event& e, uint64_t& flags) {
  if (!is_open(e.type) || e.arg.empty()) return false;
  flags = e.arg[0];
  return true;
}

constexpr std::string_view kNoEnrich = "absent unless the runtime supplies it (Enrichment)";

#define KS_LAMBDA(body) [](const EvalInput& in, const FieldRef& ref, int idx, Value& out) -> bool { body }

const FieldInfo kFields[] = {
    // evt.*
    {"evt.type", FieldType::evttype, ArgKind::none, KS_LAMBDA(return set_str(out, event_type_name(ev(in).type));),
     "event type (Falco's syscall name; kata-sentry's lsm_* for LSM hooks)", ""},
    {"evt.dir", FieldType::string, ArgKind::none, KS_LAMBDA(return set_str(out, ev(in).has_res ? "<" : ">");),
     "Falco's event direction. A record holds a syscall's enter and exit in one, so in conditions evt.dir = < and "
     "evt.dir = > are both true; as output: < when the result is known", ""},
    {"syscall.type", FieldType::string, ArgKind::none, KS_LAMBDA(return set_str(out, event_type_name(ev(in).type));),
     "alias of evt.type", ""},
    {"evt.num", FieldType::number, ArgKind::none, never, "event number",
     "always absent: records carry no sequence number (so Falco's never_true stays false)"},
    {"evt.time", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, static_cast<int64_t>(ev(in).time_ns));),
     "event time, ns since the epoch", ""},
    {"evt.rawtime", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, static_cast<int64_t>(ev(in).time_ns));),
     "event time, ns since the epoch", ""},
    {"evt.res", FieldType::string, ArgKind::none, get_evt_res, "SUCCESS, or the errno name (ENOENT) on failure",
     "absent when the result is unknown (enter-only records)"},
    {"evt.rawres", FieldType::number, ArgKind::none,
     KS_LAMBDA(return ev(in).has_res && set_num(out, ev(in).res);), "syscall result as a number",
     "absent when the result is unknown"},
    {"evt.failed", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(return ev(in).has_res && set_num(out, ev(in).res < 0);), "true if the syscall failed",
     "absent when the result is unknown"},
    {"evt.is_open_read", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(uint64_t f = 0; return set_num(out, open_flags(ev(in), f) && (f & 3) != 1);),
     "open family: opened for reading", ""},
    {"evt.is_open_write", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(uint64_t f = 0; return set_num(out, open_flags(ev(in), f) && (f & 3) != 0);),
     "open family: opened for writing", ""},
    {"evt.is_open_exec", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(uint64_t f = 0; return set_num(out, open_flags(ev(in), f) && (f & 040) != 0);),
     "open family: opened with exec intent (FMODE_EXEC)", ""},
    {"evt.arg", FieldType::string, ArgKind::event_arg, get_event_arg,
     "evt.arg.NAME / evt.arg[N]: an argument, rendered as Falco does (O_WRONLY|O_TRUNC, PTRACE_ATTACH, AF_PACKET)",
     "absent when the event type has no such argument"},
    {"evt.rawarg", FieldType::number, ArgKind::event_arg, get_event_arg, "evt.rawarg.NAME: an argument as a number",
     "absent when the event type has no such numeric argument"},
    {"evt.args", FieldType::string, ArgKind::none, get_evt_args, "all arguments as name=value text", ""},
    {"evt.exit_signal", FieldType::number, ArgKind::none,
     KS_LAMBDA(const Event& e = ev(in); if (e.type != T::procexit || !e.has_res) return false;
               return set_num(out, e.res & 0x7f);),
     "kata-sentry: procexit: the signal that ended the process, 0 for a normal exit", "absent for other types"},
    {"evt.hostname", FieldType::string, ArgKind::none,
     KS_LAMBDA(if (in.extra && in.extra->hostname) return set_str(out, *in.extra->hostname); return set_str(out, hostname());),
     "host name of the node evaluating the event", ""},
    {"evt.source", FieldType::string, ArgKind::none, KS_LAMBDA(return set_str(out, "syscall");), "always syscall", ""},
    {"evt.denied", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(return set_num(out, (ev(in).flags & KS_F_DENIED) != 0);),
     "kata-sentry: an in-kernel enforcement program refused the operation", ""},
    {"evt.syscall_nr", FieldType::number, ArgKind::none, KS_LAMBDA(const auto& n = ev(in).syscall; return n && set_num(out, *n);),
     "kata-sentry: the syscall (x86-64 number) an LSM hook ran in: 304 open_by_handle_at, 426 io_uring_enter; -1 none",
     "absent for syscall records (evt.type names the syscall) and hosts without BPF LSM"},
    {"evt.is_io_uring", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(const Event& e = ev(in); if (!e.syscall && !(e.flags & KS_F_IO_WORKER)) return false;
               return set_num(out, (e.flags & KS_F_IO_WORKER) || e.syscall == 426);),
     "kata-sentry: io_uring did the operation (a worker thread, or io_uring_enter inline)",
     "absent where the hook's syscall is not recorded"},
    {"evt.truncated", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(return set_num(out, (ev(in).flags & KS_F_TRUNCATED) != 0);),
     "kata-sentry: a path or argv in the record was cut to fit", ""},
    // proc.*
    {"proc.pid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.pid);), "process id", ""},
    {"proc.vpid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.pid);),
     "process id as seen in its pid namespace (the probe's pid)", ""},
    {"proc.ppid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.ppid);), "parent pid", ""},
    {"proc.name", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).proc.name);),
     "process name (comm)", "absent when unknown"},
    {"proc.exe", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).proc.exepath);),
     "executable path (Falco: argv[0]; records carry the resolved path, which kata-sentry reports)",
     "absent when unknown"},
    {"proc.exepath", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).proc.exepath);),
     "full executable path", "absent when unknown"},
    {"proc.args", FieldType::string, ArgKind::none, get_args, "arguments after argv[0], space-separated", ""},
    {"proc.cmdline", FieldType::string, ArgKind::none, KS_LAMBDA(return set_own(out, ev(in).proc.cmdline());),
     "name and arguments", ""},
    {"proc.pname", FieldType::string, ArgKind::none, KS_LAMBDA(return get_aname(in, ref, 1, out);),
     "parent process name", "absent when the parent is unknown (proc.pname exists is then false)"},
    {"proc.pexe", FieldType::string, ArgKind::none, KS_LAMBDA(return get_aexepath(in, ref, 1, out);),
     "parent executable path", "absent when unknown"},
    {"proc.pexepath", FieldType::string, ArgKind::none, KS_LAMBDA(return get_aexepath(in, ref, 1, out);),
     "parent executable path", "absent when unknown"},
    {"proc.pcmdline", FieldType::string, ArgKind::none, KS_LAMBDA(return get_acmdline(in, ref, 1, out);),
     "parent command line", "absent when unknown"},
    {"proc.ppid.duration", FieldType::number, ArgKind::none, never, "parent's age", "always absent"},
    {"proc.aname", FieldType::string, ArgKind::index, get_aname,
     "ancestor name: [0] self, [1] parent...; without [N]: matches if any ancestor matches", "absent beyond the known lineage"},
    {"proc.aexepath", FieldType::string, ArgKind::index, get_aexepath, "ancestor executable path ([N] as proc.aname)",
     "absent beyond the known lineage"},
    {"proc.aexe", FieldType::string, ArgKind::index, get_aexepath, "ancestor executable ([N] as proc.aname)",
     "absent beyond the known lineage"},
    {"proc.acmdline", FieldType::string, ArgKind::index, get_acmdline, "ancestor command line", "absent beyond the known lineage"},
    {"proc.apid", FieldType::number, ArgKind::index, get_apid, "ancestor pid", "absent beyond the known lineage"},
    {"proc.cwd", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).proc.cwd);),
     "working directory when the process exec'd its image (a later chdir is not followed)", "absent when unknown"},
    {"proc.env", FieldType::string, ArgKind::key, get_env,
     "environment (NAME=value, space-separated); proc.env[NAME]: the value of NAME. Bounded (2 KiB) copy made at exec",
     "absent except on exec events (and for a NAME that is not set)"},
    {"proc.is_exe_deleted", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(if (ev(in).proc.exepath.empty()) return false; return set_num(out, ev(in).proc.exe_deleted);),
     "kata-sentry: the executable had no link left when exec'd (deleted after opening, or a memfd)",
     "absent when the executable path is unknown"},
    {"proc.args_truncated", FieldType::boolean, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.args_truncated);),
     "kata-sentry: argv was longer than a record holds (4 KiB); proc.args is its start and proc.cmdline ends in \" ...\"", ""},
    {"proc.tty", FieldType::number, ArgKind::none, KS_LAMBDA(return extra_num(in, &Enrichment::tty, out);),
     "controlling terminal (0 = none)", kNoEnrich},
    {"proc.duration", FieldType::number, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->proc_start_ns) return false;
               return set_num(out, static_cast<int64_t>(ev(in).time_ns - *in.extra->proc_start_ns));),
     "ns since the process started", kNoEnrich},
    {"proc.sname", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::sname, out);),
     "session leader name", kNoEnrich},
    {"proc.is_exe_from_memfd", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(std::string_view p = ev(in).proc.exepath; if (p.empty()) return false;
               return set_num(out, p.starts_with("memfd:") || p.starts_with("/memfd:"));),
     "the executable is a memfd (exepath memfd:...)", "absent when the executable path is unknown"},
    {"proc.is_exe_upper_layer", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->exe_upper_layer) return false; return set_num(out, *in.extra->exe_upper_layer);),
     "the executable is in the container's writable layer", kNoEnrich},
    {"proc.exe_ino.ctime", FieldType::number, ArgKind::none, never, "executable inode ctime", "always absent"},
    {"proc.exe_ino.mtime", FieldType::number, ArgKind::none, never, "executable inode mtime", "always absent"},
    {"proc.exe_ino.ctime_duration_proc_start", FieldType::number, ArgKind::none, never, "exe ctime to start", "always absent"},
    {"proc.vpgid.name", FieldType::string, ArgKind::none, never, "process group leader name", "always absent"},
    {"proc.vpgid.exe", FieldType::string, ArgKind::none, never, "process group leader exe", "always absent"},
    {"proc.is_vpgid_leader", FieldType::boolean, ArgKind::none, never, "process is its group's leader", "always absent"},
    {"proc.is_agent", FieldType::boolean, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.is_agent);),
     "kata-sentry: the task belongs to the guest agent", ""},
    {"proc.cgroup_id", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, static_cast<int64_t>(ev(in).proc.cgroup_id));),
     "kata-sentry: cgroup v2 id", ""},
    {"thread.tid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.tid);), "thread id", ""},
    {"thread.cap_effective", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).proc.caps; return c && set_own(out, capability_set_text(c->effective));),
     "effective capability set at the time of the event (CAP_X CAP_Y, as Falco)", "absent when unknown (events from files)"},
    {"thread.cap_permitted", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).proc.caps; return c && set_own(out, capability_set_text(c->permitted));),
     "permitted capability set", "absent when unknown"},
    {"thread.cap_inheritable", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).proc.caps; return c && set_own(out, capability_set_text(c->inheritable));),
     "inheritable capability set", "absent when unknown"},
    // user.*, group.*
    {"user.uid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.uid);), "user id", ""},
    {"user.loginuid", FieldType::number, ArgKind::none,
     KS_LAMBDA(uint32_t l = ev(in).proc.loginuid; return set_num(out, l == UINT32_MAX ? int64_t{-1} : int64_t{l});),
     "audit login uid (-1 = unset)", ""},
    {"user.name", FieldType::string, ArgKind::none, get_user_name, "user name",
     "root for uid 0; other uids absent unless the runtime supplies the name (Enrichment)"},
    {"user.loginname", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::login_name, out);),
     "login user name", kNoEnrich},
    {"group.gid", FieldType::number, ArgKind::none, KS_LAMBDA(return set_num(out, ev(in).proc.gid);), "group id", ""},
    {"group.name", FieldType::string, ArgKind::none, get_group_name, "group name",
     "root for gid 0; others absent unless supplied (Enrichment)"},
    // fd.*
    {"fd.num", FieldType::number, ArgKind::none, get_fd_num, "fd number (open family: the result, -1 on failure)",
     "absent for types without an fd, or when the result is unknown"},
    {"fd.name", FieldType::string, ArgKind::none, get_fd_name, "file path, or ip:port of the peer for sockets",
     "absent for types without a file or socket"},
    {"fd.nameraw", FieldType::string, ArgKind::none, get_fd_name, "file path as passed (not normalised)", "as fd.name"},
    {"fd.directory", FieldType::string, ArgKind::none, get_fd_directory, "directory of fd.name", "absent for non-files"},
    {"fd.filename", FieldType::string, ArgKind::none, get_fd_filename, "base name of fd.name", "absent for non-files"},
    {"fd.type", FieldType::string, ArgKind::none, get_fd_type, "file|ipv4|ipv6|unix|vsock", "absent without an fd"},
    {"fd.typechar", FieldType::string, ArgKind::none, get_fd_typechar, "f|4|6|u|v", "absent without an fd"},
    {"fd.sockfamily", FieldType::string, ArgKind::none, get_sockfamily, "ip|unix|vsock", "absent for non-sockets"},
    {"fd.l4proto", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::l4proto, out);),
     "tcp|udp", kNoEnrich},
    {"fd.ip", FieldType::string, ArgKind::none, get_ip, "either address of the connection", "absent for non-IP"},
    {"fd.sip", FieldType::string, ArgKind::none, get_sip, "server address (connect/sendto/bind)", "absent otherwise"},
    {"fd.cip", FieldType::string, ArgKind::none, get_cip, "client address (accept)", "absent otherwise"},
    {"fd.rip", FieldType::string, ArgKind::none, get_rip, "remote address", "absent otherwise"},
    {"fd.lip", FieldType::string, ArgKind::none, get_lip, "local address (bind)", "absent otherwise"},
    {"fd.net", FieldType::ipnet, ArgKind::none, get_ip, "either address, compared against CIDR", "absent for non-IP"},
    {"fd.snet", FieldType::ipnet, ArgKind::none, get_sip, "server address vs CIDR", "absent otherwise"},
    {"fd.cnet", FieldType::ipnet, ArgKind::none, get_cip, "client address vs CIDR", "absent otherwise"},
    {"fd.rnet", FieldType::ipnet, ArgKind::none, get_rip, "remote address vs CIDR", "absent otherwise"},
    {"fd.port", FieldType::number, ArgKind::none, get_port, "either port", "absent for non-sockets"},
    {"fd.sport", FieldType::number, ArgKind::none, get_sport, "server port", "absent otherwise"},
    {"fd.cport", FieldType::number, ArgKind::none, get_cport, "client port", "absent otherwise"},
    {"fd.rport", FieldType::number, ArgKind::none, get_rport, "remote port", "absent otherwise"},
    {"fd.lport", FieldType::number, ArgKind::none, get_lport, "local port (bind)", "absent otherwise"},
    {"fd.vsock_cid", FieldType::number, ArgKind::none,
     KS_LAMBDA(return ev(in).addr.family == AF_VSOCK && set_num(out, ev(in).addr.vsock_cid);),
     "kata-sentry: AF_VSOCK peer context id", "absent for other families"},
    {"fd.sip.name", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::sip_name, out);),
     "server name the address was resolved from", kNoEnrich},
    {"fd.cip.name", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::cip_name, out);),
     "client name the address was resolved from", kNoEnrich},
    {"fd.rip.name", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::rip_name, out);),
     "remote name the address was resolved from", kNoEnrich},
    {"fd.lip.name", FieldType::string, ArgKind::none, KS_LAMBDA(return extra_str(in, &Enrichment::lip_name, out);),
     "local name the address was resolved from", kNoEnrich},
    {"fd.connected", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->fd_connected) return false; return set_num(out, *in.extra->fd_connected);),
     "socket is connected", kNoEnrich},
    {"fd.name_changed", FieldType::boolean, ArgKind::none, never, "fd name changed by this event", "always absent"},
    {"fd.ino", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && f.ino != 0 && set_num(out, static_cast<int64_t>(f.ino));),
     "inode number of the file (whatever name reached it)", "absent unless an LSM hook saw the inode"},
    {"fd.dev", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && set_num(out, static_cast<int64_t>(makedev(f.dev_major, f.dev_minor)));),
     "device of the file system holding the file (st_dev)", "absent unless an LSM hook saw the inode"},
    {"fd.dev.major", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && set_num(out, f.dev_major);), "major of fd.dev", "as fd.dev"},
    {"fd.dev.minor", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && set_num(out, f.dev_minor);), "minor of fd.dev", "as fd.dev"},
    {"fd.rdev.major", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.is_device() && set_num(out, f.rdev_major);),
     "kata-sentry: a device node's major (1 for /dev/mem wherever the node lives); mknod: the node asked for",
     "absent unless the object is a char or block device"},
    {"fd.rdev.minor", FieldType::number, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.is_device() && set_num(out, f.rdev_minor);),
     "kata-sentry: a device node's minor", "absent unless the object is a char or block device"},
    {"fd.is_char_device", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && set_num(out, (f.mode & 0170000) == 0020000);),
     "kata-sentry: the object is a character device node", "absent unless an LSM hook saw the inode"},
    {"fd.is_block_device", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; return f.known() && set_num(out, (f.mode & 0170000) == 0060000);),
     "kata-sentry: the object is a block device node", "absent unless an LSM hook saw the inode"},
    {"fd.fs_type", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& f = ev(in).file; if (!f.known() || !f.fs_magic) return false;
               auto n = fs_type_of(f.fs_magic); return n.empty() ? set_own(out, std::to_string(f.fs_magic)) : set_str(out, n);),
     "kata-sentry: the file system holding the object (nsfs for /proc/<pid>/ns/*, proc, tmpfs, overlay, ...; "
     "its magic number when not a known one)", "absent unless an LSM hook saw the inode"},
    {"fd.types", FieldType::string, ArgKind::index, never, "types of the fds of a multi-fd event", "always absent"},
    // container.*, k8s.*
    {"container.id", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).container_id; return set_str(out, c.empty() ? std::string_view("host") : c);),
     "container inside the sandbox; \"host\" when the event is not from a container (as Falco)", ""},
    {"container.name", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).container_id; return set_str(out, c.empty() ? std::string_view("host") : c);),
     "container name (kata-sentry reports the id)", ""},
    {"container.info", FieldType::string, ArgKind::none,
     KS_LAMBDA(const auto& c = ev(in).container_id; std::string s = "container_id=" + (c.empty() ? std::string("host") : c);
               if (in.extra && in.extra->image_repository) s += " container_image=" + *in.extra->image_repository;
               return set_own(out, std::move(s));),
     "Falco's output shorthand: container_id=... [container_image=...]", ""},
    {"container.image.repository", FieldType::string, ArgKind::none,
     KS_LAMBDA(if (in.extra && in.extra->image_repository) return set_str(out, *in.extra->image_repository);
               return set_str(out, "");),
     "image repository", "\"\" unless supplied: compares as Falco's value for an unknown image"},
    {"container.image.tag", FieldType::string, ArgKind::none,
     KS_LAMBDA(if (in.extra && in.extra->image_tag) return set_str(out, *in.extra->image_tag); return set_str(out, "");),
     "image tag", "\"\" unless supplied"},
    {"container.image", FieldType::string, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->image_repository) return set_str(out, "");
               std::string s = *in.extra->image_repository;
               if (in.extra->image_tag) s += ":" + *in.extra->image_tag;
               return set_own(out, std::move(s));),
     "image repository:tag", "\"\" unless supplied"},
    {"container.privileged", FieldType::boolean, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->privileged) return false; return set_num(out, *in.extra->privileged);),
     "container runs privileged", kNoEnrich},
    {"container.mounts", FieldType::string, ArgKind::none,
     KS_LAMBDA(if (!in.extra || !in.extra->mounts) return false; return set_own(out, mounts_text(*in.extra->mounts));),
     "the container's mounts, space-separated, each source:dest:mode:rdrw:propagation (from the runtime spec)", kNoEnrich},
    {"container.mount", FieldType::string, ArgKind::key, get_mount<MountPart::all>,
     "one mount (source:dest:mode:rdrw:propagation) by index or source glob: container.mount[0], container.mount[/var/run/*]",
     "\"none\" when nothing matches or the mounts are unknown; absent outside a container"},
    {"container.mount.source", FieldType::string, ArgKind::key, get_mount<MountPart::source>,
     "a mount's source, by index or destination glob", "\"N/A\" when nothing matches or the mounts are unknown; absent outside a container"},
    {"container.mount.dest", FieldType::string, ArgKind::key, get_mount<MountPart::dest>,
     "a mount's destination, by index or source glob (container.mount.dest[/proc*]: where a host /proc is mounted)",
     "\"N/A\" when nothing matches or the mounts are unknown; absent outside a container"},
    {"container.mount.mode", FieldType::string, ArgKind::key, get_mount<MountPart::mode>, "a mount's relabel mode, by index or source glob",
     "as container.mount.dest"},
    {"container.mount.rdwr", FieldType::string, ArgKind::key, get_mount<MountPart::rdwr>, "a mount is read-write (true|false), by index or source glob",
     "as container.mount.dest"},
    {"container.mount.propagation", FieldType::string, ArgKind::key, get_mount<MountPart::propagation>,
     "a mount's propagation, by index or source glob", "as container.mount.dest"},
    {"container.start_ts", FieldType::number, ArgKind::none,
     KS_LAMBDA(return extra_num(in, &Enrichment::container_start_ns, out);), "container start time, ns", kNoEnrich},
    {"k8s.pod.name", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).pod_name);),
     "pod name", "absent outside a pod"},
    {"k8s.ns.name", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).pod_namespace);),
     "pod namespace", "absent outside a pod"},
    {"k8s.pod.uid", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).pod_uid);),
     "pod uid (the CRI's PodSandboxMetadata.uid), set by the host", "absent outside a pod"},
    // kata-sentry's own
    {"view", FieldType::string, ArgKind::none, KS_LAMBDA(return set_str(out, view_name(ev(in).view));),
     "kata-sentry: host|guest — which kernel saw the event", ""},
    {"sandbox.id", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).sandbox_id);),
     "kata-sentry: sandbox (pod VM) id, set by the host", "absent for host events outside any sandbox"},
    {"sandbox.name", FieldType::string, ArgKind::none, KS_LAMBDA(return nonempty(out, ev(in).sandbox_name);),
     "kata-sentry: sandbox name", "absent outside a sandbox"},
    {"vmm.pid", FieldType::number, ArgKind::none,
     KS_LAMBDA(return ev(in).vmm_pid != 0 && set_num(out, ev(in).vmm_pid);),
     "kata-sentry: pid of the sandbox's VMM when the event is in its scope (host view)", "absent otherwise"},
};
#undef KS_LAMBDA

}  // namespace

std::string_view field_type_name(FieldType type) {
  switch (type) {
    case FieldType::string: return "string";
    case FieldType::number: return "number";
    case FieldType::boolean: return "bool";
    case FieldType::ipnet: return "ipnet";
    case FieldType::evttype: return "evttype";
  }
  return "?";
}

std::span<const FieldInfo> field_catalogue() { return kFields; }

std::optional<uint64_t> arg_symbol_value(std::string_view name) {
  for (auto table : {std::span<const Sym>(kPtraceRequestSyms), std::span<const Sym>(kSockDomainSyms),
                     std::span<const Sym>(kSockTypeSyms), std::span<const Sym>(kCloneFlagSyms), std::span<const Sym>(kPtraceModeSyms)})
    for (const auto& s : table)
      if (s.name == name) return s.value;
  if (auto f = open_flag_value(name)) return f;
  bool hex = name.starts_with("0x");
  std::string_view digits = hex ? name.substr(2) : name;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, hex ? 16 : 10);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

std::string_view errno_name(int64_t err) {
  if (err <= 0 || err > 4095) return {};
  const char* n = strerrorname_np(static_cast<int>(err));
  return n ? std::string_view(n) : std::string_view();
}

bool fd_name_is_path(EventType type) { return is_file(type); }

bool event_arg_is_path(const FieldRef& ref, EventType type) {
  auto t = static_cast<size_t>(type);
  return !ref.raw && t < ref.arg_slot.size() && ref.arg_slot[t] == kPath;
}

Result<FieldRef> resolve_field(std::string_view text) {
  FieldRef ref;
  ref.text = std::string(text);
  std::string_view base = text;
  std::optional<int> index;
  std::string_view bracket;
  if (auto lb = text.find('['); lb != std::string_view::npos) {
    if (text.back() != ']') return fail(ErrorCode::invalid_argument, "field '" + std::string(text) + "': missing ']'");
    base = text.substr(0, lb);
    bracket = text.substr(lb + 1, text.size() - lb - 2);
  }
  // evt.arg.NAME, evt.rawarg.NAME, evt.arg[N]
  std::string arg_name;
  if (base.starts_with("evt.arg.") || base.starts_with("evt.rawarg.")) {
    ref.raw = base.starts_with("evt.rawarg.");
    arg_name = std::string(base.substr(ref.raw ? 11 : 8));
    base = ref.raw ? "evt.rawarg" : "evt.arg";
    if (arg_name.empty() || !bracket.empty())
      return fail(ErrorCode::invalid_argument, "field '" + std::string(text) + "': malformed argument name");
  }
  for (const auto& f : kFields)
    if (f.name == base) ref.info = &f;
  if (!ref.info) return fail(ErrorCode::invalid_argument, "unknown field '" + std::string(text) + "'");
  if (ref.info->arg == ArgKind::key) {
    ref.arg_name = std::string(bracket);
    return ref;
  }
  if (!bracket.empty()) {
    if (ref.info->arg == ArgKind::none)
      return fail(ErrorCode::invalid_argument, "field '" + std::string(base) + "' takes no [argument]");
    int n = 0;
    for (char c : bracket) {
      if (c < '0' || c > '9' || n > 100000)
        return fail(ErrorCode::invalid_argument, "field '" + std::string(text) + "': index must be a number");
      n = n * 10 + (c - '0');
    }
    index = n;
  }
  if (ref.info->arg == ArgKind::event_arg) {
    if (arg_name.empty() && !index)
      return fail(ErrorCode::invalid_argument, "field '" + std::string(text) + "' needs .NAME or [N]");
    ref.arg_slot.fill(-1);
    for (T t : all_event_types()) {
      auto ti = static_cast<size_t>(t);
      if (ti >= ref.arg_slot.size()) continue;
      auto names = event_arg_names(t);
      if (index) {
        if (static_cast<size_t>(*index) < names.size()) {
          ref.arg_slot[ti] = static_cast<int8_t>(*index);
          ref.arg_fmt[ti] = format_for(t, names[*index]);
        }
        continue;
      }
      if (auto i = event_arg_index(t, arg_name)) {
        ref.arg_slot[ti] = static_cast<int8_t>(*i);
        ref.arg_fmt[ti] = format_for(t, arg_name);
      } else if (int8_t s = string_slot(t, arg_name); s >= 0) {
        ref.arg_slot[ti] = s;
      }
    }
    ref.arg_name = arg_name;
    ref.index = index.value_or(-1);
    return ref;
  }
  ref.index = index.value_or(-1);
  return ref;
}

std::optional<std::string> field_text(const FieldRef& ref, const EvalInput& in) {
  Value v;
  int idx = ref.index;
  if (ref.any_ancestor()) idx = 1;  // outputs of proc.aname without [N] show the parent
  if (!ref.info->get(in, ref, idx, v)) return std::nullopt;
  switch (ref.type()) {
    case FieldType::number: return std::to_string(v.num);
    case FieldType::boolean: return std::string(v.num ? "true" : "false");
    default: return std::string(v.str);
  }
}

}  // namespace kata_sentry::policy
