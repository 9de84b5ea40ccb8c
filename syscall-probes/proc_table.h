// The user-space process table: what the probes do not put in every record (exe path,
// full command line, parent and ancestor names) is looked up here. Seeded from /proc at
// start, kept current from exec/clone/exit events, bounded by a capacity (least
// recently used entries are evicted first and counted), and entries leave on exit.
//
// Not thread-safe: one thread (the one that polls the probes) owns it.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event.h"

namespace kata_sentry::probes {

// The head of /proc/<pid>/stat ("pid (comm) state ppid ..."). nullopt when the text has no
// "(comm)"; ppid is empty when the field after the state is not a number.
struct ProcStatHead {
  std::string comm;
  std::optional<uint32_t> ppid;
};
std::optional<ProcStatHead> parse_proc_stat(std::string_view stat);
// The numeric entries of proc_root (the processes); empty when it cannot be read.
std::vector<uint32_t> list_proc_pids(const std::string& proc_root);

struct ProcEntry {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string name;               // comm
  std::string exepath;
  std::vector<std::string> args;  // without argv[0]
  bool args_truncated = false;
  std::string cwd;                // at exec (chdir afterwards is not traced)
  bool exe_deleted = false;
};

class ProcTable {
 public:
  static constexpr size_t kDefaultCapacity = 32768;
  static constexpr size_t kMaxAncestors = 16;

  // `proc_root` is "/proc" except in tests (a fake tree with <pid>/stat, cmdline, exe).
  explicit ProcTable(size_t capacity = kDefaultCapacity, std::string proc_root = "/proc");

  // Reads every <pid> under proc_root; returns how many entries were loaded. Processes
  // that vanish or cannot be read are skipped.
  size_t seed();

  // Applies an event's effect: exec replaces the image, clone adds the child (as a copy
  // of the parent), exit removes the process. Every event refreshes comm/ppid.
  void update(const Event& event);

  // Fills exepath, args, cwd, pname and ancestors where the event lacks them (the
  // environment stays on exec events: copying it into every event costs more than the rules
  // that read it are worth). Missing processes are loaded from proc_root on demand.
  void enrich(Event& event);

  std::optional<ProcEntry> lookup(uint32_t pid) const;
  std::vector<uint32_t> pids() const;
  // Known processes whose ancestry (through the table) includes `pid`.
  std::vector<uint32_t> descendants_of(uint32_t pid) const;
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  uint64_t evictions() const { return evictions_; }

  // Reads one process from proc_root; nullopt when it does not exist.
  std::optional<ProcEntry> read_proc(uint32_t pid) const;

 private:
  struct Slot {
    ProcEntry entry;
    std::list<uint32_t>::iterator lru;
  };
  ProcEntry* find(uint32_t pid);
  ProcEntry* find_or_load(uint32_t pid);
  ProcEntry& put(ProcEntry entry);
  void erase(uint32_t pid);

  size_t capacity_;
  std::string proc_root_;
  std::unordered_map<uint32_t, Slot> entries_;
  std::list<uint32_t> lru_;  // front = most recently used
  uint64_t evictions_ = 0;
};

}  // namespace kata_sentry::probes
