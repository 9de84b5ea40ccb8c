#include "core/event_decode.h"

#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <time.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "kata_sentry/event_abi.h"

namespace kata_sentry {

// Layout checks: this side and the BPF side share one header; these pin it down.
static_assert(sizeof(ks_event_header) == 16);
static_assert(sizeof(ks_proc_ctx) == 56);
static_assert(sizeof(ks_sockaddr) == 24);
static_assert(offsetof(ks_event, proc) == 16);
static_assert(offsetof(ks_event, res) == 72);
static_assert(offsetof(ks_event, arg) == 80);
static_assert(offsetof(ks_event, addr) == 112);
static_assert(offsetof(ks_event, path_len) == 136);
static_assert(offsetof(ks_event, path) == 152);
static_assert(offsetof(ks_event, path2) == 152 + KS_PATH_LEN);
static_assert(offsetof(ks_event, argv) == 152 + 2 * KS_PATH_LEN);
static_assert(sizeof(ks_event) == 152 + 2 * KS_PATH_LEN + KS_ARGV_LEN);
static_assert(sizeof(ks_event) % 8 == 0);
static_assert(KS_EVT_MEMFD_CREATE == static_cast<int>(EventType::memfd_create));
static_assert(KS_EVT_LSM_SB_MOUNT == static_cast<int>(EventType::lsm_sb_mount));
static_assert(KS_EVT_CGROUP_CONNECT == static_cast<int>(EventType::cgroup_connect));
static_assert(KS_EVT_CGROUP_DEVICE == static_cast<int>(EventType::cgroup_device));

namespace {

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

}  // namespace

BootClock::BootClock() : offset_ns_(sample_boot_offset()) {}

Result<Event> decode_event(std::span<const uint8_t> record, View view, const BootClock& clock) {
  if (record.size() != sizeof(ks_event))
    return fail(ErrorCode::protocol, "decode event: record is " + std::to_string(record.size()) +
                                         " bytes, expected " + std::to_string(sizeof(ks_event)));
  ks_event raw;
  std::memcpy(&raw, record.data(), sizeof raw);  // the ring buffer gives no alignment promise
  if (raw.hdr.abi_version != KS_EVENT_ABI_VERSION)
    return fail(ErrorCode::protocol, "decode event: ABI version " +
                                         std::to_string(raw.hdr.abi_version) + ", expected " +
                                         std::to_string(KS_EVENT_ABI_VERSION));
  auto type = static_cast<EventType>(raw.hdr.type);
  if (event_type_name(type).empty())
    return fail(ErrorCode::protocol, "decode event: unknown type " + std::to_string(raw.hdr.type));

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
  } else if (is_exec(type)) {
    p.exepath = e.path;
    if (!argv.empty()) {
      p.args.assign(argv.begin() + 1, argv.end());
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
