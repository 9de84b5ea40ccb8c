#include "tools/kata-trace/process_view.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "core/terminal_text.h"

namespace kata_sentry::trace {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kBoldRed = "\033[1;31m";
constexpr const char* kDim = "\033[2m";
constexpr size_t kCommandWidth = 60;
constexpr size_t kShortId = 12;
constexpr int kMaxDepth = 64;  // a deeper chain is printed flat from there

std::string cut(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

std::string view_of(const v1::ProcessInfo& p) { return p.view() == v1::VIEW_GUEST ? "guest" : "host"; }

std::string command_of(const v1::ProcessInfo& p) {
  return p.cmdline().empty() ? p.name() : p.name() + " " + p.cmdline();
}

std::string alert_of(const v1::ProcessInfo& p) {
  return p.last_alert().empty() ? "" : p.last_alert() + " (" + p.last_alert_priority() + ")";
}

// One view's processes as a forest: children by parent pid, roots those whose parent is absent.
void print_view(const std::vector<const v1::ProcessInfo*>& procs, bool color, std::string& out) {
  std::map<uint32_t, const v1::ProcessInfo*> by_pid;
  for (const auto* p : procs) by_pid[p->pid()] = p;
  std::map<uint32_t, std::vector<const v1::ProcessInfo*>> children;
  std::vector<const v1::ProcessInfo*> roots;
  for (const auto* p : procs) {
    if (by_pid.contains(p->ppid()) && p->ppid() != p->pid())
      children[p->ppid()].push_back(p);
    else
      roots.push_back(p);
  }
  std::set<uint32_t> shown;
  std::function<void(const v1::ProcessInfo*, const std::string&, bool, int)> node =
      [&](const v1::ProcessInfo* p, const std::string& indent, bool last, int depth) {
        if (!shown.insert(p->pid()).second) return;
        std::string line = indent + (last ? "└─ " : "├─ ");
        line += terminal_safe(p->name()) + "[" + std::to_string(p->pid()) + "]";
        if (!p->role().empty()) line += " " + terminal_safe(p->role());
        if (!p->container_id().empty()) line += " container=" + terminal_safe(cut(p->container_id(), kShortId));
        if (!p->cmdline().empty()) line += (color ? std::string(kDim) : "") + "  " + terminal_safe(cut(p->cmdline(), kCommandWidth)) + (color ? kReset : "");
        if (!p->last_alert().empty()) {
          std::string mark = "  ! " + terminal_safe(alert_of(*p));
          line += color ? kBoldRed + mark + kReset : mark;
        }
        out += line + "\n";
        auto it = children.find(p->pid());
        if (it == children.end() || depth >= kMaxDepth) return;
        const auto& kids = it->second;
        for (size_t i = 0; i < kids.size(); ++i)
          node(kids[i], indent + (last ? "   " : "│  "), i + 1 == kids.size(), depth + 1);
      };
  for (size_t i = 0; i < roots.size(); ++i) node(roots[i], "", i + 1 == roots.size(), 0);
  // A parent loop the guest made up has no root: its members are listed flat, never lost.
  for (const auto* p : procs)
    if (!shown.contains(p->pid())) node(p, "", true, kMaxDepth);
}

}  // namespace

std::string processes_table(const v1::ListProcessesResponse& resp, TableFormat format, bool headers) {
  if (format == TableFormat::json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    for (const auto& p : resp.processes()) {
      std::string text;
      (void)google::protobuf::util::MessageToJsonString(p, &text, opts);
      out.push_back(nlohmann::ordered_json::parse(text, nullptr, false));
    }
    return out.dump() + "\n";
  }
  const bool wide = format == TableFormat::wide;
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head{"VIEW", "PID", "PPID", "CONTAINER", "ROLE"};
  if (wide) head.push_back("EXE");
  head.push_back("COMMAND");
  head.push_back("LAST-ALERT");
  if (headers) cells.push_back(head);
  for (const auto& p : resp.processes()) {
    std::vector<std::string> row{view_of(p), std::to_string(p.pid()), std::to_string(p.ppid()),
                                 p.container_id().empty() ? "-" : (wide ? p.container_id() : cut(p.container_id(), kShortId)),
                                 p.role().empty() ? "-" : p.role()};
    if (wide) row.push_back(p.exepath().empty() ? "-" : p.exepath());
    row.push_back(wide ? command_of(p) : cut(command_of(p), kCommandWidth));
    row.push_back(p.last_alert().empty() ? "-" : alert_of(p));
    for (auto& c : row) c = terminal_safe(c);
    cells.push_back(std::move(row));
  }
  return aligned_columns(cells);
}

std::string processes_tree(const v1::ListProcessesResponse& resp, bool color) {
  std::string out;
  for (auto view : {v1::VIEW_HOST, v1::VIEW_GUEST}) {
    std::vector<const v1::ProcessInfo*> procs;
    for (const auto& p : resp.processes())
      if (p.view() == view) procs.push_back(&p);
    out += view == v1::VIEW_HOST ? "host\n" : "guest\n";
    if (procs.empty()) {
      out += "   (none listed)\n";
      continue;
    }
    print_view(procs, color, out);
  }
  return out;
}

std::string processes_notes(const v1::ListProcessesResponse& resp) {
  std::string notes;
  if (!resp.guest_error().empty()) notes += "guest processes unavailable: " + terminal_safe(resp.guest_error()) + "\n";
  if (resp.guest_truncated()) notes += "the guest has more processes than listed\n";
  if (resp.guest_refused() > 0) notes += std::to_string(resp.guest_refused()) + " invalid guest process entries refused\n";
  return notes;
}

}  // namespace kata_sentry::trace
