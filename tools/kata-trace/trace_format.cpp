#include "tools/kata-trace/trace_format.h"

#include <cstring>
#include <ctime>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "core/event_json.h"
#include "core/terminal_text.h"

namespace kata_sentry::trace {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kDim = "\033[2m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kGreen = "\033[32m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kBlue = "\033[34m";
constexpr const char* kMagenta = "\033[35m";
constexpr const char* kCyan = "\033[36m";
constexpr const char* kBoldRed = "\033[1;31m";

std::string paint(const std::string& text, const char* colour, bool on) { return on ? colour + text + kReset : text; }

// "17:20:01.123" in UTC: a live stream's lines are read against each other, not a calendar.
std::string clock_of(uint64_t ns) {
  time_t s = time_t(ns / 1000000000);
  struct tm tm {};
  gmtime_r(&s, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec, unsigned(ns / 1000000 % 1000));
  return buf;
}

const char* tag_colour(std::string_view tag) {
  if (tag == "EXEC" || tag == "EXIT" || tag == "FORK") return kGreen;
  if (tag == "OPEN" || tag == "FILE") return kBlue;
  if (tag == "NET") return kCyan;
  if (tag == "DENY") return kBoldRed;
  if (tag == "LSM") return kYellow;
  return kMagenta;  // namespaces, modules, bpf, ptrace, kill: the rarer, more telling kinds
}

std::string result_of(const Event& e) {
  if (!e.has_res) return "";
  if (e.res == 0) return "ok";
  if (e.res < 0) {
    const char* name = strerrorname_np(int(-e.res));
    return name ? name : "error " + std::to_string(e.res);
  }
  return "= " + std::to_string(e.res);
}

// What the event did, in a few words: the command line of an exec, the file of a file
// event, the peer of a connection.
std::string what_of(const Event& e) {
  switch (e.type) {
    case EventType::execve:
    case EventType::execveat:
    case EventType::lsm_bprm_check:
    {
      std::string out = e.path.empty() ? e.proc.exepath : e.path;
      for (const auto& a : e.proc.args) out += " " + a;
      return out;
    }
    case EventType::procexit:
      return "exit";
    case EventType::clone:
      return "child " + std::to_string(e.arg_or(0));
    case EventType::kill:
    case EventType::lsm_task_kill:
      return "pid " + std::to_string(e.arg_or(0)) + " sig " + std::to_string(e.arg_or(1));
    default:
      break;
  }
  std::string out = e.path;
  if (!e.path2.empty()) out += " → " + e.path2;
  if (e.type == EventType::openat || e.type == EventType::openat2 || e.type == EventType::open)
    if (!e.arg.empty()) out += " " + format_open_flags(e.arg[0]);
  if (e.addr.family) {
    if (!out.empty()) out += " ";
    out += e.addr.ip.empty() ? "family " + std::to_string(e.addr.family) : e.addr.ip;
    out += ":" + std::to_string(e.addr.port);
  }
  return out;
}

std::string where_of(const std::string& sandbox, const std::string& container) {
  std::string w = sandbox.empty() ? "-" : sandbox;
  if (!container.empty()) w += "/" + container.substr(0, 12);
  return w;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string age_text(uint64_t ns) {
  uint64_t s = ns / 1000000000;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string sensor_of(const v1::SandboxStatus& s) {
  if (!s.guest_attached()) return "detached";
  if (s.heartbeat_age_ms() < 0) return "starting";
  return s.guest_lsm_enforcing() ? "lsm" : "tracing";
}

std::string heartbeat_of(const v1::SandboxStatus& s) {
  if (s.heartbeat_age_ms() < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", double(s.heartbeat_age_ms()) / 1000.0);
  return buf;
}

}  // namespace

std::string_view event_tag(EventType t) {
  switch (t) {
    case EventType::execve: case EventType::execveat: return "EXEC";
    case EventType::procexit: return "EXIT";
    case EventType::clone: return "FORK";
    case EventType::openat: case EventType::openat2: case EventType::open: return "OPEN";
    case EventType::unlinkat: case EventType::renameat: case EventType::chmod: case EventType::mknodat:
    case EventType::symlinkat: case EventType::linkat: case EventType::memfd_create: case EventType::dup:
      return "FILE";
    case EventType::socket: case EventType::connect: case EventType::bind: case EventType::listen:
    case EventType::accept: case EventType::sendto:
      return "NET";
    case EventType::mount: case EventType::umount: return "MOUNT";
    case EventType::setns: case EventType::unshare: return "NS";
    case EventType::init_module: case EventType::finit_module: return "KMOD";
    case EventType::bpf: return "BPF";
    case EventType::ptrace: return "PTRACE";
    case EventType::kill: return "KILL";
    // The guest's BPF LSM hooks: the access as the kernel decided it (refused when res < 0).
    case EventType::lsm_file_open: case EventType::lsm_bprm_check: case EventType::lsm_kernel_read_file:
    case EventType::lsm_module_request: case EventType::lsm_ptrace_access: case EventType::lsm_bpf:
    case EventType::lsm_task_kill: case EventType::lsm_socket_connect: case EventType::lsm_inode_mknod:
    case EventType::lsm_sb_mount:
      return "LSM";
    case EventType::cgroup_connect: case EventType::cgroup_device:  // refused by a host cgroup program
      return "DENY";
    default: return "EVENT";
  }
}

std::string event_line(const Event& e, LineFormat format, bool color) {
  if (format == LineFormat::json) return event_to_json_line(e);
  std::string tag(event_tag(e.type));
  // Sanitised piece by piece (names, paths and argv are the guest's); the colour codes are ours.
  std::string proc = terminal_safe(e.proc.name) + "[" + std::to_string(e.proc.pid) + "]";
  std::string line = paint(clock_of(e.time_ns), kDim, color) + " " + paint(pad(tag, 6), tag_colour(tag), color) + " " +
                     pad(std::string(view_name(e.view)), 5) + " " + pad(terminal_safe(where_of(e.sandbox_id, e.container_id)), 20) + " ";
  if (format == LineFormat::wide)
    line += pad(std::string(event_type_name(e.type)), 13) + " " + pad(proc, 18) + " ppid=" + std::to_string(e.proc.ppid) + "(" +
            terminal_safe(e.proc.pname) + ") uid=" + std::to_string(e.proc.uid) + " ";
  else
    line += pad(proc, 18) + " ";
  line += terminal_safe(what_of(e));
  std::string res = result_of(e);
  if (!res.empty()) line += "  " + paint(res, res == "ok" || res[0] == '=' ? kDim : kRed, color);
  return line;
}

std::string alert_line(const AlertItem& a, LineFormat format, bool color) {
  if (format == LineFormat::json) return a.json;
  auto j = nlohmann::json::parse(a.json, nullptr, false);
  std::string text;
  if (!j.is_discarded()) {
    if (a.audit) {
      text = j.value("action", "") + (j.value("ok", true) ? "" : " FAILED") + ": " + j.value("detail", "");
    } else {
      text = j.value("output", "");
      // Falco's output starts with "<time>: <Priority> "; the line already has both.
      if (auto at = text.find(": " + a.priority + " "); at != std::string::npos) text = text.substr(at + a.priority.size() + 3);
    }
  }
  std::string kind = a.audit ? "AUDIT" : a.priority;
  const char* colour = a.audit ? kYellow
                       : (a.priority == "Emergency" || a.priority == "Alert" || a.priority == "Critical" || a.priority == "Error")
                           ? kBoldRed
                           : kYellow;
  std::string line = paint(clock_of(a.time_ns), kDim, color) + " " + paint(pad(kind, 9), colour, color) + " " +
                     pad(terminal_safe(where_of(a.sandbox_id, a.container_id)), 20) + " [" + terminal_safe(a.rule) + "] " +
                     terminal_safe(text);
  return line;
}

std::string aligned_columns(const std::vector<std::vector<std::string>>& cells) {
  std::vector<size_t> width;
  for (const auto& row : cells) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) line += c + 1 == row.size() ? row[c] : pad(row[c], width[c] + 2);
    out += line + "\n";
  }
  return out;
}

uint64_t guest_drops(const v1::SandboxStatus& s) {
  return s.guest_rate_limited() + s.guest_seq_missing() + s.guest_batches_dropped() + s.guest_ringbuf_drops() +
         s.guest_agent_rate_limited() + s.guest_agent_queue_drops();
}

std::string sandboxes_table(const std::vector<SandboxRow>& rows, const v1::ListSandboxesResponse& resp, TableFormat format,
                            bool headers) {
  if (format == TableFormat::json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    for (const auto& r : rows) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(*r.status, &text, opts);
      auto j = nlohmann::ordered_json::parse(text, nullptr, false);
      if (r.events_per_s >= 0) j["events_per_second"] = r.events_per_s;
      out.push_back(std::move(j));
    }
    return out.dump() + "\n";
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head{"SANDBOX", "POD", "CONTAINERS", "AGE", "MODE", "SENSOR", "HEARTBEAT", "EVENTS/S", "DROPS(H/G)", "ALERTS"};
  if (format == TableFormat::wide) {
    for (const char* h : {"VMM", "GUEST-EVENTS", "HOST-EVENTS", "TAMPER", "G-RATE", "G-SEQ", "G-REFUSED", "G-RINGBUF", "G-AGENT-Q"})
      head.push_back(h);
  }
  if (headers) cells.push_back(head);
  for (const auto& r : rows) {
    const auto& s = *r.status;
    const auto& i = s.info();
    std::string pod = i.pod_name().empty() ? "-" : (i.pod_namespace().empty() ? "" : i.pod_namespace() + "/") + i.pod_name();
    char rate[32] = "-";
    if (r.events_per_s >= 0) std::snprintf(rate, sizeof rate, "%.0f", r.events_per_s);
    std::vector<std::string> row{i.sandbox_id(),
                                 pod,
                                 std::to_string(i.container_ids_size()),
                                 resp.now_ns() > s.registered_at_ns() ? age_text(resp.now_ns() - s.registered_at_ns()) : "0s",
                                 s.mode(),
                                 sensor_of(s),
                                 heartbeat_of(s),
                                 rate,
                                 std::to_string(s.host_queue_drops()) + "/" + std::to_string(guest_drops(s)),
                                 std::to_string(s.alerts())};
    if (format == TableFormat::wide) {
      for (uint64_t v : {uint64_t(i.vmm_pid()), s.guest_events(), s.host_records(), s.tamper_alerts(), s.guest_rate_limited(),
                         s.guest_seq_missing(), s.guest_batches_dropped(), s.guest_ringbuf_drops(), s.guest_agent_queue_drops()})
        row.push_back(std::to_string(v));
    }
    for (auto& c : row) c = terminal_safe(c);
    cells.push_back(std::move(row));
  }
  std::string out = aligned_columns(cells);
  if (format == TableFormat::wide && resp.subscribers_size() > 0) {
    out += "\nSUBSCRIBER                         KIND     DELIVERED    DROPPED  QUEUED\n";
    for (const auto& sub : resp.subscribers()) {
      char buf[256];
      std::string client = terminal_safe(sub.client().empty() ? "-" : sub.client());
      std::snprintf(buf, sizeof buf, "%-34s %-8s %9llu %10llu %7llu\n", client.c_str(),
                    sub.kind().c_str(), (unsigned long long)sub.delivered(), (unsigned long long)sub.dropped(),
                    (unsigned long long)sub.queued());
      out += buf;
    }
  }
  return out;
}

}  // namespace kata_sentry::trace
