// ProcTable with synthetic events and a fake /proc tree: seeding, enrichment, exec/clone/
// exit updates, the capacity bound and eviction counting.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "syscall-probes/proc_table.h"

namespace kata_sentry::probes {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    root_ = fs::temp_directory_path() / ("ks_fake_proc_" + std::to_string(getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::create_directories(root_);
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void add(uint32_t pid, uint32_t ppid, const std::string& comm, const std::string& exe,
           const std::vector<std::string>& argv) {
    fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1 4194560\n";
    std::ofstream cmd(dir / "cmdline", std::ios::binary);
    for (const auto& a : argv) cmd << a << '\0';
    if (!exe.empty()) fs::create_symlink(exe, dir / "exe");
  }
  std::string root() const { return root_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

Event event_of(EventType type, uint32_t pid, uint32_t ppid, const std::string& name) {
  Event e;
  e.type = type;
  e.proc.pid = pid;
  e.proc.tid = pid;
  e.proc.ppid = ppid;
  e.proc.name = name;
  return e;
}

TEST(ProcTable, SeedsFromProcAndEnrichesAncestors) {
  FakeProc proc;
  proc.add(1, 0, "init", "/sbin/init", {"/sbin/init"});
  proc.add(100, 1, "bash", "/usr/bin/bash", {"-bash"});
  proc.add(200, 100, "my (odd) name", "/opt/x/app", {"/opt/x/app", "--flag", "v"});
  ProcTable table(64, proc.root());
  EXPECT_EQ(table.seed(), 3u);

  auto app = table.lookup(200);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->name, "my (odd) name");
  EXPECT_EQ(app->ppid, 100u);
  EXPECT_EQ(app->exepath, "/opt/x/app");
  EXPECT_EQ(app->args, (std::vector<std::string>{"--flag", "v"}));

  Event e = event_of(EventType::openat, 200, 100, "my (odd) name");
  table.enrich(e);
  EXPECT_EQ(e.proc.exepath, "/opt/x/app");
  EXPECT_EQ(e.proc.cmdline(), "my (odd) name --flag v");
  EXPECT_EQ(e.proc.pname, "bash");
  ASSERT_EQ(e.proc.ancestors.size(), 2u);
  EXPECT_EQ(e.proc.ancestors[0].pid, 100u);
  EXPECT_EQ(e.proc.ancestors[0].exepath, "/usr/bin/bash");
  EXPECT_EQ(e.proc.ancestors[1].name, "init");
  EXPECT_EQ(e.proc.ancestors[1].cmdline, "init");
}

TEST(ProcTable, LoadsUnknownProcessesOnDemand) {
  FakeProc proc;
  ProcTable table(64, proc.root());
  EXPECT_EQ(table.seed(), 0u);
  proc.add(7, 0, "late", "/bin/late", {"late", "x"});
  Event e = event_of(EventType::connect, 7, 0, "late");
  table.enrich(e);
  EXPECT_EQ(e.proc.exepath, "/bin/late");
  EXPECT_EQ(e.proc.args, (std::vector<std::string>{"x"}));
  EXPECT_EQ(table.size(), 1u);
}

TEST(ProcTable, ExecReplacesTheImageAndFailedExecDoesNot) {
  FakeProc proc;
  proc.add(1, 0, "init", "/sbin/init", {"init"});
  proc.add(50, 1, "sh", "/bin/sh", {"sh"});
  ProcTable table(64, proc.root());
  table.seed();

  Event failed = event_of(EventType::execve, 50, 1, "sh");
  failed.has_res = true;
  failed.res = -2;
  failed.path = "/nope";
  failed.proc.exepath = "/nope";
  table.update(failed);
  EXPECT_EQ(table.lookup(50)->exepath, "/bin/sh");

  Event exec = event_of(EventType::execve, 50, 1, "true");
  exec.has_res = true;
  exec.res = 0;
  exec.path = "/usr/bin/true";
  exec.proc.exepath = "/usr/bin/true";
  exec.proc.args = {"alpha", "beta"};
  table.enrich(exec);
  table.update(exec);
  EXPECT_EQ(exec.proc.cmdline(), "true alpha beta");
  EXPECT_EQ(exec.proc.pname, "init");
  auto entry = table.lookup(50);
  EXPECT_EQ(entry->name, "true");
  EXPECT_EQ(entry->exepath, "/usr/bin/true");
  EXPECT_EQ(entry->args, (std::vector<std::string>{"alpha", "beta"}));

  // A later event of the same process without exepath/args gets them from the table.
  Event open = event_of(EventType::openat, 50, 1, "true");
  table.enrich(open);
  EXPECT_EQ(open.proc.exepath, "/usr/bin/true");
  EXPECT_EQ(open.proc.cmdline(), "true alpha beta");
}

TEST(ProcTable, CloneAddsTheChildAndExitRemovesIt) {
  FakeProc proc;
  proc.add(10, 0, "daemon", "/usr/sbin/daemon", {"daemon", "-f"});
  ProcTable table(64, proc.root());
  table.seed();

  Event clone = event_of(EventType::clone, 10, 0, "daemon");
  clone.arg = {11, 0};
  table.update(clone);
  auto child = table.lookup(11);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->ppid, 10u);
  EXPECT_EQ(child->exepath, "/usr/sbin/daemon");
  EXPECT_EQ(child->args, (std::vector<std::string>{"-f"}));

  // A new thread is not a process.
  Event thread = event_of(EventType::clone, 10, 0, "daemon");
  thread.arg = {12, 0x00010000};
  table.update(thread);
  EXPECT_FALSE(table.lookup(12));

  Event child_open = event_of(EventType::openat, 11, 10, "daemon");
  table.enrich(child_open);
  EXPECT_EQ(child_open.proc.pname, "daemon");

  Event exit = event_of(EventType::procexit, 11, 10, "daemon");
  table.enrich(exit);
  table.update(exit);
  EXPECT_EQ(exit.proc.exepath, "/usr/sbin/daemon");  // enriched before removal
  EXPECT_FALSE(table.lookup(11));
}

TEST(ProcTable, IsBoundedAndCountsEvictions) {
  FakeProc proc;
  ProcTable table(3, proc.root());
  for (uint32_t pid = 1; pid <= 3; ++pid) {
    Event exec = event_of(EventType::execve, pid, 0, "p" + std::to_string(pid));
    exec.proc.exepath = "/bin/p";
    table.update(exec);
  }
  EXPECT_EQ(table.size(), 3u);
  // Touch pid 1 so that pid 2 is the least recently used.
  Event touch = event_of(EventType::openat, 1, 0, "p1");
  table.enrich(touch);
  Event exec4 = event_of(EventType::execve, 4, 0, "p4");
  table.update(exec4);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.evictions(), 1u);
  EXPECT_TRUE(table.lookup(1));
  EXPECT_FALSE(table.lookup(2));
  EXPECT_TRUE(table.lookup(4));
}

TEST(ProcTable, SelfParentedEntriesDoNotLoop) {
  FakeProc proc;
  proc.add(5, 5, "weird", "", {"weird"});
  ProcTable table(8, proc.root());
  table.seed();
  Event e = event_of(EventType::openat, 5, 5, "weird");
  table.enrich(e);
  EXPECT_LE(e.proc.ancestors.size(), 1u);
}

TEST(ProcTable, DescendantsOf) {
  FakeProc proc;
  proc.add(1, 0, "init", "/sbin/init", {"init"});
  proc.add(20, 1, "a", "/a", {"a"});
  proc.add(21, 20, "b", "/b", {"b"});
  proc.add(22, 21, "c", "/c", {"c"});
  proc.add(30, 1, "other", "/o", {"o"});
  ProcTable table(64, proc.root());
  table.seed();
  auto d = table.descendants_of(20);
  std::sort(d.begin(), d.end());
  EXPECT_EQ(d, (std::vector<uint32_t>{21, 22}));
}

}  // namespace
}  // namespace kata_sentry::probes
