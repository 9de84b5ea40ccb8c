#include "core/event_decode.h"

#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <time.h>

#include <cstddef>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kata_sentry/event_abi.h"

namespace kata_sentry {

// Layout checks: this side and the BPF side share one header; these pin it down.
static_assert(sizeof(ks_event_header) == 16);
static_assert(sizeof(ks_proc_ctx) == 80);
static_assert(offsetof(ks_proc_ctx, cap_effective) == 56);
static_assert(sizeof(ks_sockaddr) == 24);
static_assert(sizeof(ks_file_id) == 32);
static_assert(offsetof(ks_event, proc) == 16);
static_assert(offsetof(ks_event, res) == 96);
static_assert(offsetof(ks_event, arg) == 104);
static_assert(offsetof(ks_event, addr) == 136);
static_assert(offsetof(ks_event, file) == 160);
static_assert(offsetof(ks_event, path_len) == 192);
static_assert(offsetof(ks_event, syscall) == 200);
static_assert(offsetof(ks_event, path) == 208);
static_assert(offsetof(ks_event, path2) == 208 + KS_PATH_LEN);
static_assert(offsetof(ks_event, argv) == 208 + 2 * KS_PATH_LEN);
static_assert(sizeof(ks_event) == 208 + 2 * KS_PATH_LEN + KS_ARGV_LEN);
static_assert(sizeof(ks_event) % 8 == 0);
static_assert(offsetof(ks_exec_ext, args) == 16);
static_assert(offsetof(ks_exec_ext, env) == 16 + KS_EXEC_ARGS_LEN);
static_assert(offsetof(ks_exec_ext, cwd) == 16 + KS_EXEC_ARGS_LEN + KS_EXEC_ENV_LEN);
static_assert(offsetof(ks_exec_ext, exe) == 16 + KS_EXEC_ARGS_LEN + KS_EXEC_ENV_LEN + KS_PATH_LEN);
static_assert(offsetof(ks_exec_event, x) == sizeof(ks_event));
static_assert(sizeof(ks_exec_event) == sizeof(ks_event) + 16 + KS_EXEC_ARGS_LEN + KS_EXEC_ENV_LEN + 2 * KS_PATH_LEN);
static_assert(sizeof(ks_exec_event) % 8 == 0);
// The ext's lengths are u16: every buffer must fit.
static_assert(KS_EXEC_ARGS_LEN <= UINT16_MAX && KS_EXEC_ENV_LEN <= UINT16_MAX);
static_assert(KS_EVT_MEMFD_CREATE == static_cast<int>(EventType::memfd_create));
static_assert(KS_EVT_LSM_SB_MOUNT == static_cast<int>(EventType::lsm_sb_mount));
static_assert(KS_EVT_CGROUP_CONNECT == static_cast<int>(EventType::cgroup_connect));
static_assert(KS_EVT_CGROUP_DEVICE == static_cast<int>(EventType::cgroup_device));
static_assert(KS_EVT_MKDIRAT == static_cast<int>(EventType::mkdirat));
static_assert(KS_EVT_IO_URING_SETUP == static_cast<int>(EventType::io_uring_setup));
static_assert(KS_EVT_LSM_KERNEL_LOAD_DATA == static_cast<int>(EventType::lsm_kernel_load_data));
static_assert(KS_EVT_LSM_URING == static_cast<int>(EventType::lsm_uring));
static_assert(KS_EVT_MAX == kEventTypeSlots);

namespace {

// argv and environment strings kept from one exec tail: an argv of empty strings packs 4096
// of them into the buffer, more than any rule needs or the guest stream admits per event.
constexpr size_t kMaxExecStrings = 1024;

int64_t sample_boot_offset() {
  timespec real{}, boot{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return (int64_t(real.tv_sec) - boot.tv_sec) * 1'000'000'000 + (real.tv_nsec - boot.tv_nsec);
}

// A string field: at most `declared` bytes (clamped to the buffer), cut at the first NUL.
std::string bounded_string(const char* buf, size_t cap, size_t declared) {
  size_t n = declared == 0 || declared > cap ? cap : declared;
  return std::string(buf, strnlen(buf, n));
}

std::string format_ip(const ks_sockaddr& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.family == AF_INET) inet_ntop(AF_INET, a.addr, text, sizeof text);
  else if (a.family == AF_INET6) inet_ntop(AF_INET6, a.addr, text, sizeof text);
  return text;
}

bool is_exec(EventType t) {
  return t == EventType::execve || t == EventType::execveat || t == EventType::lsm_bprm_check;
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// NUL-separated strings in the first `len` bytes (clamped to cap); at most `max` of them.
// A last string without its NUL (cut by the bound) counts. Returns false when more than
// `max` were there.
bool split_nul(const char* buf, size_t cap, size_t len, size_t max, std::vector<std::string>& out) {
  len = std::min(len, cap);
  for (size_t off = 0; off < len;) {
    if (out.size() == max) return false;
    size_t n = strnlen(buf + off, len - off);
    out.emplace_back(buf + off, n);
    off += n + 1;
  }
  return true;
}

// A path the probe wrote leaf first, one NUL-terminated component each (ks_exec_ext), as
// "/a/b/c"; a truncated walk is marked with a leading "...".
std::string join_reversed(const char* buf, size_t cap, size_t len, bool truncated) {
  std::vector<std::string> parts;
  split_nul(buf, cap, len, cap, parts);
  std::string out = truncated ? "..." : "";
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += *it;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

BootClock::BootClock() : offset_ns_(sample_boot_offset()) {}

Result<Event> decode_event(std::span<const uint8_t> record, View view, const BootClock& clock) {
  if (record.size() != sizeof(ks_event) && record.size() != sizeof(ks_exec_event))
    return fail(ErrorCode::protocol, "decode event: record is " + std::to_string(record.size()) +
                                         " bytes, expected " + std::to_string(sizeof(ks_event)) + " or " +
                                         std::to_string(sizeof(ks_exec_event)) + " (a successful exec)");
  ks_event raw;
  std::memcpy(&raw, record.data(), sizeof raw);  // the ring buffer gives no alignment promise
  if (raw.hdr.abi_version != KS_EVENT_ABI_VERSION)
    return fail(ErrorCode::protocol, "decode event: ABI version " +
                                         std::to_string(raw.hdr.abi_version) + ", expected " +
                                         std::to_string(KS_EVENT_ABI_VERSION));
  auto type = static_cast<EventType>(raw.hdr.type);
  if (event_type_name(type).empty())
    return fail(ErrorCode::protocol, "decode event: unknown type " + std::to_string(raw.hdr.type));
  const bool has_exec_tail = record.size() == sizeof(ks_exec_event);
  if (has_exec_tail && type != EventType::execve && type != EventType::execveat)
    return fail(ErrorCode::protocol, "decode event: a " + std::string(event_type_name(type)) +
                                         " record with an exec tail");

  Event e;
  e.type = type;
  e.view = view;
  e.time_ns = clock.to_wall_ns(raw.hdr.ts_ns);
  // The host saw it itself; a guest's records get their receive time on the host instead.
  if (view == View::host) e.host_time_ns = e.time_ns;
  e.flags = raw.hdr.flags;
  e.has_res = raw.hdr.flags & KS_F_HAS_RES;
  e.res = e.has_res || type == EventType::procexit ? raw.res : 0;
  if (type == EventType::procexit) e.has_res = true;

  auto& p = e.proc;
  p.pid = raw.proc.pid;
  p.tid = raw.proc.tid;
  p.ppid = raw.proc.ppid;
  p.uid = raw.proc.uid;
  p.gid = raw.proc.gid;
  p.loginuid = raw.proc.loginuid;
  p.cgroup_id = raw.proc.cgroup_id;
  p.pid_ns = raw.proc.pid_ns;
  p.mnt_ns = raw.proc.mnt_ns;
  p.name = bounded_string(raw.proc.comm, KS_COMM_LEN, KS_COMM_LEN);
  p.is_agent = raw.hdr.flags & KS_F_AGENT;
  p.caps = CapabilitySets{raw.proc.cap_effective, raw.proc.cap_permitted, raw.proc.cap_inheritable};

  if (raw.file.mode != 0 || raw.file.rdev != 0) {
    // The kernel's dev_t: major in the high 12 bits, minor in the low 20.
    e.file.ino = raw.file.ino;
    e.file.dev_major = raw.file.dev >> 20;
    e.file.dev_minor = raw.file.dev & 0xfffff;
    e.file.rdev_major = raw.file.rdev >> 20;
    e.file.rdev_minor = raw.file.rdev & 0xfffff;
    e.file.mode = raw.file.mode;
    e.file.nlink = raw.file.nlink;
    e.file.fs_magic = raw.file.magic;
  }

  if (raw.hdr.flags & KS_F_HAS_SYSCALL) e.syscall = raw.syscall;
  e.path = bounded_string(raw.path, KS_PATH_LEN, raw.path_len);
  e.path2 = bounded_string(raw.path2, KS_PATH_LEN, raw.path2_len);

  // argv: NUL-separated strings in the first argv_len bytes.
  std::vector<std::string> argv;
  size_t argv_len = raw.argv_len > KS_ARGV_LEN ? KS_ARGV_LEN : raw.argv_len;
  for (size_t off = 0; off < argv_len && argv.size() < raw.hdr.argc;) {
    size_t n = strnlen(raw.argv + off, argv_len - off);
    argv.emplace_back(raw.argv + off, n);
    off += n + 1;
  }
  if (type == EventType::mount || type == EventType::lsm_sb_mount) {
    if (!argv.empty()) e.fstype = argv[0];
  } else if (has_exec_tail) {
    ks_exec_ext x;
    std::memcpy(&x, record.data() + offsetof(ks_exec_event, x), sizeof x);
    std::vector<std::string> image_argv;
    bool all = split_nul(x.args, KS_EXEC_ARGS_LEN, x.args_len, kMaxExecStrings, image_argv);
    if (!image_argv.empty()) p.args.assign(image_argv.begin() + 1, image_argv.end());
    p.args_truncated = !all || (x.flags & KS_X_ARGS_TRUNCATED);
    p.env_truncated = !split_nul(x.env, KS_EXEC_ENV_LEN, x.env_len, kMaxExecStrings, p.env) ||
                      (x.flags & KS_X_ENV_TRUNCATED);
    p.cwd = join_reversed(x.cwd, KS_PATH_LEN, x.cwd_len, x.flags & KS_X_CWD_TRUNCATED);
    // The executable as the kernel resolved it; the name asked for stays in fd.name/path.
    p.exepath = x.exe_len ? join_reversed(x.exe, KS_PATH_LEN, x.exe_len, x.flags & KS_X_EXE_TRUNCATED) : e.path;
    p.exe_deleted = x.flags & KS_X_EXE_DELETED;
    // comm was sampled after the exec: the new image's name (for a script, the script's).
  } else if (is_exec(type)) {
    p.exepath = e.path;
    // The exec check holds the file: one without a link left (deleted, a memfd) is told.
    if (type == EventType::lsm_bprm_check && e.file.known()) p.exe_deleted = e.file.nlink == 0;
    if (!argv.empty()) {
      p.args.assign(argv.begin() + 1, argv.end());
      p.args_truncated = (raw.hdr.flags & KS_F_ARGV_MORE) ||
                         ((raw.hdr.flags & KS_F_TRUNCATED) && argv_len == KS_ARGV_LEN);
      // comm in the record is the pre-exec name when sampled at sys_enter; the image is the truth.
      if (!e.path.empty()) p.name = basename_of(e.path).substr(0, KS_COMM_LEN - 1);
    }
  }

  auto names = event_arg_names(type);
  e.arg.assign(raw.arg, raw.arg + names.size());

  if (raw.addr.family != 0) {
    e.addr.family = raw.addr.family;
    e.addr.port = raw.addr.port;
    e.addr.vsock_cid = raw.addr.family == AF_VSOCK ? raw.addr.vsock_cid : 0;
    e.addr.ip = format_ip(raw.addr);
  }
  return e;
}

}  // namespace kata_sentry
