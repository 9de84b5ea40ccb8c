#include "core/event_json.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <utility>

#include "core/capability_names.h"
#include "core/json_line_writer.h"
#include "core/terminal_text.h"

namespace kata_sentry {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

bool is_open_type(EventType t) {
  return t == EventType::openat || t == EventType::openat2 || t == EventType::open ||
         t == EventType::lsm_file_open;
}

// Splits Falco's cmdline back into name and args (args never hold spaces we can tell apart,
// so "proc.args" wins when present).
std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <typename T>
Status read_number(const json& o, const char* key, T& out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (!it->is_number_integer() && !it->is_number_unsigned())
    return fail(ErrorCode::invalid_argument, std::string("event JSON: \"") + key + "\" is not an integer");
  out = it->get<T>();
  return {};
}

Status read_string(const json& o, const char* key, std::string& out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  if (!it->is_string())
    return fail(ErrorCode::invalid_argument, std::string("event JSON: \"") + key + "\" is not a string");
  out = it->get<std::string>();
  return {};
}

// "evt.rawarg.<name>", without an allocation per field: valid until the next call.
std::string_view raw_arg_key(std::string_view name) {
  thread_local std::string key;
  key.assign("evt.rawarg.");
  key += name;
  return key;
}

}  // namespace

std::string format_rfc3339_ns(uint64_t unix_ns) {
  // Events come in time order: the date and time of day change once a second at most, so the
  // last second's text is kept (gmtime_r and strftime cost more than the rest of the line).
  thread_local uint64_t cached_secs = UINT64_MAX;
  thread_local char cached[32];
  thread_local size_t cached_len = 0;
  uint64_t secs = unix_ns / 1'000'000'000;
  if (secs != cached_secs) {
    time_t t = static_cast<time_t>(secs);
    tm utc{};
    gmtime_r(&t, &utc);
    cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_secs = secs;
  }
  char out[48];
  std::memcpy(out, cached, cached_len);
  char* p = out + cached_len;
  *p++ = '.';
  uint64_t frac = unix_ns % 1'000'000'000;
  for (int i = 8; i >= 0; --i, frac /= 10) p[i] = char('0' + frac % 10);
  p += 9;
  *p++ = 'Z';
  return std::string(out, p);
}

Result<uint64_t> parse_rfc3339_ns(std::string_view text) {
  std::string s(text);
  tm t{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (!rest) return fail(ErrorCode::invalid_argument, "time \"" + s + "\" is not RFC 3339");
  uint64_t frac = 0;
  int digits = 0;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) { frac = frac * 10 + uint64_t(*rest - '0'); ++digits; }
      ++rest;
    }
  }
  for (; digits < 9; ++digits) frac *= 10;
  if (*rest != 'Z' || rest[1] != '\0')
    return fail(ErrorCode::invalid_argument, "time \"" + s + "\" must be UTC and end in Z");
  time_t secs = timegm(&t);
  if (secs < 0) return fail(ErrorCode::invalid_argument, "time \"" + s + "\" is before 1970");
  return uint64_t(secs) * 1'000'000'000 + frac;
}

namespace {
// Kernel (x86-64) values: glibc defines O_LARGEFILE as 0 on 64-bit, but the kernel
// reports the bit it adds for 64-bit callers.
constexpr std::array<std::pair<uint64_t, const char*>, 14> kOpenFlagBits = {{
    {00000100, "O_CREAT"}, {00000200, "O_EXCL"}, {00000400, "O_NOCTTY"}, {00001000, "O_TRUNC"},
    {00002000, "O_APPEND"}, {00004000, "O_NONBLOCK"}, {00010000, "O_DSYNC"},
    {00040000, "O_DIRECT"}, {00100000, "O_LARGEFILE"}, {00200000, "O_DIRECTORY"},
    {00400000, "O_NOFOLLOW"}, {01000000, "O_NOATIME"}, {02000000, "O_CLOEXEC"},
    {010000000, "O_PATH"},
}};
}  // namespace

std::optional<uint64_t> open_flag_value(std::string_view name) {
  if (name == "O_RDONLY") return O_RDONLY;
  if (name == "O_WRONLY") return O_WRONLY;
  if (name == "O_RDWR") return O_RDWR;
  for (auto [bit, n] : kOpenFlagBits)
    if (name == n) return bit;
  return std::nullopt;
}

std::string format_open_flags(uint64_t flags) {
  const auto& kBits = kOpenFlagBits;
  std::string out;
  switch (flags & O_ACCMODE) {
    case O_WRONLY: out = "O_WRONLY"; break;
    case O_RDWR: out = "O_RDWR"; break;
    default: out = "O_RDONLY"; break;
  }
  for (auto [bit, name] : kBits) {
    // O_TMPFILE includes O_DIRECTORY; O_SYNC includes O_DSYNC: report the bits as set.
    if ((flags & bit) == bit) {
      out += '|';
      out += name;
    }
  }
  return out;
}

// The one list of an event's JSON fields, in output order.
std::string event_to_json_line(const Event& e) {
  std::string line;
  line.reserve(768);
  JsonLineWriter j(line);
  j.field("time", format_rfc3339_ns(e.time_ns));
  // Only where it says something: the guest's clock is not the host's.
  if (e.host_time_ns != 0 && e.host_time_ns != e.time_ns) j.field("host_time", format_rfc3339_ns(e.host_time_ns));
  j.field("view", view_name(e.view));
  j.field("evt.type", event_type_name(e.type));
  if (e.has_res) j.field("evt.res", e.res);
  if (e.flags) j.field("evt.flags", e.flags);
  if (!e.sandbox_id.empty()) j.field("sandbox.id", e.sandbox_id);
  if (!e.sandbox_name.empty()) j.field("sandbox.name", e.sandbox_name);
  if (e.vmm_pid) j.field("vmm.pid", e.vmm_pid);
  if (!e.container_id.empty()) j.field("container.id", e.container_id);
  if (!e.pod_name.empty()) j.field("k8s.pod.name", e.pod_name);
  if (!e.pod_namespace.empty()) j.field("k8s.ns.name", e.pod_namespace);
  if (!e.pod_uid.empty()) j.field("k8s.pod.uid", e.pod_uid);

  const auto& p = e.proc;
  j.field("proc.pid", p.pid);
  j.field("thread.tid", p.tid);
  j.field("proc.ppid", p.ppid);
  j.field("proc.name", p.name);
  if (!p.exepath.empty()) j.field("proc.exepath", p.exepath);
  j.field("proc.cmdline", p.cmdline());
  j.field("proc.args", p.args);
  if (!p.pname.empty()) j.field("proc.pname", p.pname);
  for (size_t i = 0; i < p.ancestors.size(); ++i) {
    const auto& a = p.ancestors[i];
    j.indexed_field("proc.apid", i + 1, a.pid);
    j.indexed_field("proc.aname", i + 1, a.name);
    if (!a.exepath.empty()) j.indexed_field("proc.aexepath", i + 1, a.exepath);
    if (!a.cmdline.empty()) j.indexed_field("proc.acmdline", i + 1, a.cmdline);
  }
  j.field("user.uid", p.uid);
  j.field("group.gid", p.gid);
  if (p.loginuid != UINT32_MAX) j.field("user.loginuid", p.loginuid);
  j.field("proc.cgroup_id", p.cgroup_id);
  j.field("proc.pid_ns", p.pid_ns);
  j.field("proc.mnt_ns", p.mnt_ns);
  if (p.is_agent) j.field("proc.is_agent", true);
  if (p.args_truncated) j.field("proc.args_truncated", true);
  if (!p.cwd.empty()) j.field("proc.cwd", p.cwd);
  if (!p.env.empty()) j.field("proc.env", p.env);
  if (p.env_truncated) j.field("proc.env_truncated", true);
  if (p.exe_deleted) j.field("proc.is_exe_deleted", true);
  if (p.caps) {
    j.field("thread.cap_effective", capability_set_text(p.caps->effective));
    j.field("thread.cap_permitted", capability_set_text(p.caps->permitted));
    j.field("thread.cap_inheritable", capability_set_text(p.caps->inheritable));
  }

  if (!e.path.empty()) j.field("fd.name", e.path);
  if (!e.path2.empty()) j.field("fs.path.target", e.path2);
  if (!e.fstype.empty()) j.field("evt.arg.fstype", e.fstype);
  auto names = event_arg_names(e.type);
  for (size_t i = 0; i < names.size() && i < e.arg.size(); ++i)
    j.field(raw_arg_key(names[i]), e.arg[i]);
  if (is_open_type(e.type) && !e.arg.empty()) j.field("evt.arg.flags", format_open_flags(e.arg[0]));
  if (e.addr.family) {
    j.field("fd.sockfamily", e.addr.family);
    if (!e.addr.ip.empty()) j.field("fd.sip", e.addr.ip);
    j.field("fd.sport", e.addr.port);
    if (e.addr.family == AF_VSOCK) j.field("fd.vsock_cid", e.addr.vsock_cid);
  }
  if (e.syscall) j.field("evt.syscall_nr", *e.syscall);
  if (e.file.known()) {
    j.field("fd.ino", e.file.ino);
    j.field("fd.dev.major", e.file.dev_major);
    j.field("fd.dev.minor", e.file.dev_minor);
    j.field("fd.rdev.major", e.file.rdev_major);
    j.field("fd.rdev.minor", e.file.rdev_minor);
    j.field("fd.mode", e.file.mode);
    j.field("fd.nlink", e.file.nlink);
    j.field("fd.fs_magic", e.file.fs_magic);
  }
  j.finish();
  return line;
}

ordered_json event_to_json(const Event& e) { return ordered_json::parse(event_to_json_line(e)); }


Result<Event> event_from_json(const json& o) {
  if (!o.is_object()) return fail(ErrorCode::invalid_argument, "event JSON: not an object");
  Event e;
  std::string text;
  if (auto s = read_string(o, "evt.type", text); !s) return std::unexpected(s.error());
  auto type = event_type_from_name(text);
  if (!type) return fail(ErrorCode::invalid_argument, "event JSON: unknown \"evt.type\" \"" + text + "\"");
  e.type = *type;
  text.clear();
  if (auto s = read_string(o, "view", text); !s) return std::unexpected(s.error());
  if (!text.empty()) {
    auto v = view_from_name(text);
    if (!v) return fail(ErrorCode::invalid_argument, "event JSON: \"view\" must be host or guest, not \"" + text + "\"");
    e.view = *v;
  }
  text.clear();
  if (auto s = read_string(o, "time", text); !s) return std::unexpected(s.error());
  if (!text.empty()) {
    auto t = parse_rfc3339_ns(text);
    if (!t) return std::unexpected(t.error());
    e.time_ns = *t;
  }
  text.clear();  // absent: the host's time is the event's own (host_time_ns 0)
  if (auto s = read_string(o, "host_time", text); !s) return std::unexpected(s.error());
  if (!text.empty()) {
    auto t = parse_rfc3339_ns(text);
    if (!t) return std::unexpected(t.error());
    e.host_time_ns = *t;
  }
  if (o.contains("evt.res") && !o["evt.res"].is_null()) {
    e.has_res = true;
    if (auto s = read_number(o, "evt.res", e.res); !s) return std::unexpected(s.error());
  }
  auto& p = e.proc;
  Status checks[] = {
      read_number(o, "evt.flags", e.flags),
      read_string(o, "sandbox.id", e.sandbox_id),
      read_string(o, "sandbox.name", e.sandbox_name),
      read_number(o, "vmm.pid", e.vmm_pid),
      read_string(o, "container.id", e.container_id),
      read_string(o, "k8s.pod.name", e.pod_name),
      read_string(o, "k8s.ns.name", e.pod_namespace),
      read_string(o, "k8s.pod.uid", e.pod_uid),
      read_number(o, "proc.pid", p.pid),
      read_number(o, "thread.tid", p.tid),
      read_number(o, "proc.ppid", p.ppid),
      read_string(o, "proc.name", p.name),
      read_string(o, "proc.exepath", p.exepath),
      read_string(o, "proc.pname", p.pname),
      read_number(o, "user.uid", p.uid),
      read_number(o, "group.gid", p.gid),
      read_number(o, "user.loginuid", p.loginuid),
      read_number(o, "proc.cgroup_id", p.cgroup_id),
      read_number(o, "proc.pid_ns", p.pid_ns),
      read_number(o, "proc.mnt_ns", p.mnt_ns),
      read_string(o, "fd.name", e.path),
      read_string(o, "fs.path.target", e.path2),
      read_string(o, "evt.arg.fstype", e.fstype),
      read_string(o, "proc.cwd", p.cwd),
      read_number(o, "fd.ino", e.file.ino),
      read_number(o, "fd.dev.major", e.file.dev_major),
      read_number(o, "fd.dev.minor", e.file.dev_minor),
      read_number(o, "fd.rdev.major", e.file.rdev_major),
      read_number(o, "fd.rdev.minor", e.file.rdev_minor),
      read_number(o, "fd.mode", e.file.mode),
      read_number(o, "fd.nlink", e.file.nlink),
      read_number(o, "fd.fs_magic", e.file.fs_magic),
  };
  for (auto& s : checks)
    if (!s) return std::unexpected(s.error());
  for (auto [key, flag] : {std::pair{"proc.is_agent", &p.is_agent}, {"proc.args_truncated", &p.args_truncated},
                           {"proc.env_truncated", &p.env_truncated}, {"proc.is_exe_deleted", &p.exe_deleted}}) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) continue;
    if (!it->is_boolean()) return fail(ErrorCode::invalid_argument, std::string("event JSON: \"") + key + "\" is not a boolean");
    *flag = it->get<bool>();
  }
  if (o.contains("evt.syscall_nr") && !o["evt.syscall_nr"].is_null()) {
    int32_t nr = 0;
    if (auto s = read_number(o, "evt.syscall_nr", nr); !s) return std::unexpected(s.error());
    e.syscall = nr;
  }
  if (auto it = o.find("proc.env"); it != o.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_string()) return fail(ErrorCode::invalid_argument, "event JSON: \"proc.env\" holds a non-string");
      p.env.push_back(v.get<std::string>());
    }
  }
  if (o.contains("thread.cap_effective")) {
    CapabilitySets caps;
    for (auto [key, bits] : {std::pair{"thread.cap_effective", &caps.effective}, {"thread.cap_permitted", &caps.permitted},
                             {"thread.cap_inheritable", &caps.inheritable}}) {
      std::string text;
      if (auto s = read_string(o, key, text); !s) return std::unexpected(s.error());
      auto parsed = capability_set_from_text(text);
      if (!parsed) return fail(ErrorCode::invalid_argument, std::string("event JSON: \"") + key + "\" names an unknown capability");
      *bits = *parsed;
    }
    p.caps = caps;
  }

  if (auto it = o.find("proc.args"); it != o.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (!a.is_string()) return fail(ErrorCode::invalid_argument, "event JSON: \"proc.args\" holds a non-string");
      p.args.push_back(a.get<std::string>());
    }
  } else if (auto c = o.find("proc.cmdline"); c != o.end() && c->is_string()) {
    auto words = split_words(c->get<std::string>());
    if (!words.empty()) {
      if (p.name.empty()) p.name = words[0];
      p.args.assign(words.begin() + 1, words.end());
    }
  }
  for (size_t i = 1;; ++i) {
    std::string n = "[" + std::to_string(i) + "]";
    auto name = o.find("proc.aname" + n);
    if (name == o.end() || !name->is_string()) break;
    Ancestor a;
    a.name = name->get<std::string>();
    Status s[] = {read_number(o, ("proc.apid" + n).c_str(), a.pid),
                  read_string(o, ("proc.aexepath" + n).c_str(), a.exepath),
                  read_string(o, ("proc.acmdline" + n).c_str(), a.cmdline)};
    for (auto& r : s)
      if (!r) return std::unexpected(r.error());
    p.ancestors.push_back(std::move(a));
  }
  if (p.pname.empty() && !p.ancestors.empty()) p.pname = p.ancestors[0].name;

  auto names = event_arg_names(e.type);
  e.arg.assign(names.size(), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    std::string key = "evt.rawarg." + std::string(names[i]);
    if (auto s = read_number(o, key.c_str(), e.arg[i]); !s) return std::unexpected(s.error());
  }
  if (o.contains("fd.sockfamily")) {
    Status s[] = {read_number(o, "fd.sockfamily", e.addr.family), read_string(o, "fd.sip", e.addr.ip),
                  read_number(o, "fd.sport", e.addr.port), read_number(o, "fd.vsock_cid", e.addr.vsock_cid)};
    for (auto& r : s)
      if (!r) return std::unexpected(r.error());
  }
  return e;
}

Result<Event> event_from_json_line(std::string_view line) {
  json o = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (o.is_discarded()) return fail(ErrorCode::invalid_argument, "event JSON: not valid JSON");
  return event_from_json(o);
}

std::string event_to_text(const Event& e) {
  std::string out = format_rfc3339_ns(e.time_ns) + " " + std::string(view_name(e.view));
  if (!e.sandbox_id.empty()) out += " sandbox=" + e.sandbox_id;
  if (!e.container_id.empty()) out += " container=" + e.container_id;
  out += " " + std::string(event_type_name(e.type)) + " pid=" + std::to_string(e.proc.pid) +
         " ppid=" + std::to_string(e.proc.ppid) + " uid=" + std::to_string(e.proc.uid) + " " +
         e.proc.name;
  if (!e.path.empty()) out += " " + e.path;
  if (!e.path2.empty()) out += " -> " + e.path2;
  if (is_open_type(e.type) && !e.arg.empty()) out += " " + format_open_flags(e.arg[0]);
  if (e.addr.family) {
    out += " addr=";
    out += e.addr.ip.empty() ? (e.addr.family == AF_VSOCK ? "vsock:" + std::to_string(e.addr.vsock_cid) : "family " + std::to_string(e.addr.family))
                             : e.addr.ip;
    out += ":" + std::to_string(e.addr.port);
  }
  if (e.type == EventType::execve || e.type == EventType::execveat) out += " cmdline=\"" + e.proc.cmdline() + "\"";
  if (e.has_res) out += " res=" + std::to_string(e.res);
  return terminal_safe(out);  // names, paths and argv are the guest's
}

}  // namespace kata_sentry
