#include "syscall-probes/proc_table.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/read_file.h"

namespace kata_sentry::probes {
namespace {

constexpr uint64_t kCloneThread = 0x00010000;

// A process read here may exit at any moment: read_small_file never throws (see read_file.h).
bool read_file(const std::string& path, std::string& out) {
  auto text = read_small_file(path);
  if (!text) return false;
  out = std::move(*text);
  return true;
}

std::optional<uint32_t> parse_pid(std::string_view text) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

bool is_exec(EventType t) { return t == EventType::execve || t == EventType::execveat; }

}  // namespace

std::optional<ProcStatHead> parse_proc_stat(std::string_view stat) {
  // comm may hold spaces and parentheses, so cut at the last ')'.
  auto open = stat.find('(');
  auto close = stat.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStatHead head;
  head.comm = std::string(stat.substr(open + 1, close - open - 1));
  std::istringstream rest{std::string(stat.substr(close + 1))};
  std::string state, ppid;
  rest >> state >> ppid;
  head.ppid = parse_pid(ppid);
  return head;
}

std::vector<uint32_t> list_proc_pids(const std::string& proc_root) {
  std::vector<uint32_t> pids;
  DIR* dir = opendir(proc_root.c_str());
  if (!dir) return pids;
  while (dirent* d = readdir(dir))
    if (auto pid = parse_pid(d->d_name)) pids.push_back(*pid);
  closedir(dir);
  return pids;
}

ProcTable::ProcTable(size_t capacity, std::string proc_root)
    : capacity_(capacity == 0 ? 1 : capacity), proc_root_(std::move(proc_root)) {}

std::optional<ProcEntry> ProcTable::read_proc(uint32_t pid) const {
  std::string dir = proc_root_ + "/" + std::to_string(pid);
  std::string stat;
  if (!read_file(dir + "/stat", stat)) return std::nullopt;
  auto head = parse_proc_stat(stat);
  if (!head) return std::nullopt;
  ProcEntry e;
  e.pid = pid;
  e.name = std::move(head->comm);
  e.ppid = head->ppid.value_or(0);

  std::string cmdline;
  if (read_file(dir + "/cmdline", cmdline)) {
    std::vector<std::string> argv;
    for (size_t off = 0; off < cmdline.size();) {
      size_t end = cmdline.find('\0', off);
      if (end == std::string::npos) end = cmdline.size();
      argv.emplace_back(cmdline, off, end - off);
      off = end + 1;
    }
    if (argv.size() > 1) e.args.assign(argv.begin() + 1, argv.end());
  }
  char link[4096];
  ssize_t n = readlink((dir + "/exe").c_str(), link, sizeof link - 1);
  if (n > 0) {
    e.exepath.assign(link, static_cast<size_t>(n));
    // A replaced or deleted binary reads as "/path (deleted)"; the path is what matters.
    constexpr std::string_view kDeleted = " (deleted)";
    if (e.exepath.ends_with(kDeleted)) {
      e.exepath.resize(e.exepath.size() - kDeleted.size());
      e.exe_deleted = true;
    }
  }
  n = readlink((dir + "/cwd").c_str(), link, sizeof link - 1);
  if (n > 0) e.cwd.assign(link, static_cast<size_t>(n));
  return e;
}

size_t ProcTable::seed() {
  size_t loaded = 0;
  for (uint32_t pid : list_proc_pids(proc_root_)) {
    if (auto e = read_proc(pid)) {
      put(std::move(*e));
      ++loaded;
    }
  }
  return loaded;
}

ProcEntry* ProcTable::find(uint32_t pid) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.entry;
}

ProcEntry* ProcTable::find_or_load(uint32_t pid) {
  if (pid == 0) return nullptr;
  if (auto* e = find(pid)) return e;
  auto loaded = read_proc(pid);
  if (!loaded) return nullptr;
  return &put(std::move(*loaded));
}

ProcEntry& ProcTable::put(ProcEntry entry) {
  uint32_t pid = entry.pid;
  if (auto* existing = find(pid)) {
    *existing = std::move(entry);
    return *existing;
  }
  while (entries_.size() >= capacity_ && !lru_.empty()) {
    entries_.erase(lru_.back());
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(pid);
  auto [it, inserted] = entries_.emplace(pid, Slot{std::move(entry), lru_.begin()});
  return it->second.entry;
}

void ProcTable::erase(uint32_t pid) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

std::optional<ProcEntry> ProcTable::lookup(uint32_t pid) const {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return std::nullopt;
  return it->second.entry;
}

std::vector<uint32_t> ProcTable::pids() const {
  std::vector<uint32_t> out;
  out.reserve(entries_.size());
  for (const auto& [pid, slot] : entries_) out.push_back(pid);
  return out;
}

std::vector<uint32_t> ProcTable::descendants_of(uint32_t root) const {
  std::vector<uint32_t> out;
  for (const auto& [pid, slot] : entries_) {
    uint32_t cur = slot.entry.ppid;
    for (size_t depth = 0; cur != 0 && depth < 64; ++depth) {
      if (cur == root) {
        out.push_back(pid);
        break;
      }
      auto it = entries_.find(cur);
      if (it == entries_.end() || it->second.entry.ppid == cur) break;
      cur = it->second.entry.ppid;
    }
  }
  return out;
}

void ProcTable::update(const Event& event) {
  const auto& p = event.proc;
  if (p.pid == 0) return;
  if (event.type == EventType::procexit) {
    erase(p.pid);
    return;
  }
  if (is_exec(event.type)) {
    if (event.has_res && event.res != 0) return;  // a failed exec leaves the old image
    ProcEntry e;
    e.pid = p.pid;
    e.ppid = p.ppid;
    e.name = p.name;
    e.exepath = p.exepath.empty() ? event.path : p.exepath;
    e.args = p.args;
    e.args_truncated = p.args_truncated;
    e.cwd = p.cwd;
    e.exe_deleted = p.exe_deleted;
    put(std::move(e));
    return;
  }
  ProcEntry* self = find(p.pid);
  if (self) {
    // comm changes with prctl(PR_SET_NAME) and the parent with reparenting.
    if (!p.name.empty()) self->name = p.name;
    if (p.ppid) self->ppid = p.ppid;
  }
  if (event.type == EventType::clone) {
    uint64_t child = event.arg_or(0);
    if (child == 0 || child == p.pid || (event.arg_or(1) & kCloneThread)) return;
    ProcEntry e = self ? *self : ProcEntry{};
    if (!self) e.name = p.name;
    e.pid = static_cast<uint32_t>(child);
    e.ppid = p.pid;
    put(std::move(e));
  }
}

void ProcTable::enrich(Event& event) {
  auto& p = event.proc;
  if (event.type == EventType::lsm_bprm_check) {
    // The check runs before the exec: the table has the new image's argv only once the exec
    // record came (it is stamped earlier, at sys_enter), which the path tells.
    const ProcEntry* self = find(p.pid);
    if (self && self->exepath == p.exepath && p.args.empty()) {
      p.args = self->args;
      p.args_truncated = self->args_truncated;
      if (p.cwd.empty()) p.cwd = self->cwd;
    }
  } else if (!is_exec(event.type)) {
    if (const ProcEntry* self = find_or_load(p.pid)) {
      if (p.exepath.empty()) {
        p.exepath = self->exepath;
        p.exe_deleted = self->exe_deleted;
      }
      if (p.args.empty()) {
        p.args = self->args;
        p.args_truncated = self->args_truncated;
      }
      if (p.cwd.empty()) p.cwd = self->cwd;
      if (p.ppid == 0) p.ppid = self->ppid;
    }
  }
  p.ancestors.clear();
  uint32_t pid = p.ppid;
  for (size_t depth = 0; pid != 0 && depth < kMaxAncestors; ++depth) {
    const ProcEntry* a = find_or_load(pid);
    if (!a) break;
    Ancestor anc;
    anc.pid = a->pid;
    anc.name = a->name;
    anc.exepath = a->exepath;
    size_t length = a->name.size() + (a->args_truncated ? 4 : 0);
    for (const auto& arg : a->args) length += 1 + arg.size();
    anc.cmdline.reserve(length);
    anc.cmdline = a->name;
    for (const auto& arg : a->args) {
      anc.cmdline += ' ';
      anc.cmdline += arg;
    }
    if (a->args_truncated) anc.cmdline += " ...";
    p.ancestors.push_back(std::move(anc));
    if (a->ppid == pid) break;  // a self-parented entry would loop forever
    pid = a->ppid;
  }
  if (p.pname.empty() && !p.ancestors.empty()) p.pname = p.ancestors.front().name;
}

}  // namespace kata_sentry::probes
