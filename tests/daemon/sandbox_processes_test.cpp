// The join behind Sentryd.ListProcesses (sentryd/sandbox_processes.h): host processes from a
// fake /proc, a hostile guest's process table decoded within its bounds, the last-alert marks.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent.pb.h"
#include "sentryd/sandbox_processes.h"

namespace kata_sentry::daemon {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/ks-fakeproc-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  ~FakeProc() { fs::remove_all(root_); }
  void add(uint32_t pid, uint32_t ppid, const std::string& comm, const std::string& exe = "",
           const std::string& cmdline = "") {
    fs::path d = root_ / std::to_string(pid);
    fs::create_directories(d);
    std::ofstream(d / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1\n";
    std::ofstream(d / "cmdline") << cmdline;
    if (!exe.empty()) fs::create_symlink(exe, d / "exe");
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

const ProcessRow* find(const std::vector<ProcessRow>& rows, View view, uint32_t pid) {
  for (const auto& r : rows)
    if (r.view == view && r.pid == pid) return &r;
  return nullptr;
}

TEST(HostProcesses, AreTheShimWhatRunsUnderItAndTheHelpersAndNothingElse) {
  FakeProc proc;
  proc.add(1, 0, "init");
  proc.add(100, 1, "containerd-shim", "/usr/local/bin/containerd-shim-kata-sentry-v2");
  proc.add(101, 100, "qemu-system-x86", "/usr/bin/qemu-system-x86_64", std::string("qemu\0-m\0" "1024", 13));
  proc.add(102, 100, "virtiofsd", "/usr/lib/qemu/virtiofsd");
  proc.add(103, 102, "virtiofsd", "/usr/lib/qemu/virtiofsd");
  proc.add(200, 1, "containerd-shim");  // another pod's
  proc.add(201, 200, "qemu-system-x86");
  proc.add(300, 1, "sshd");
  auto rows = host_processes(101, {102}, proc.root());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(find(rows, View::host, 100)->role, "shim");
  EXPECT_EQ(find(rows, View::host, 101)->role, "vmm");
  EXPECT_EQ(find(rows, View::host, 101)->cmdline, "-m 1024");
  EXPECT_EQ(find(rows, View::host, 102)->role, "virtiofsd");
  EXPECT_EQ(find(rows, View::host, 103)->role, "virtiofsd");
  EXPECT_EQ(find(rows, View::host, 201), nullptr);
  EXPECT_TRUE(host_processes(999, {}, proc.root()).empty()) << "a VMM that is gone";
}

std::string guest_list(const std::function<void(v1::ListGuestProcessesResponse&)>& fill) {
  v1::ListGuestProcessesResponse l;
  fill(l);
  return l.SerializeAsString();
}

v1::GuestProcess* add(v1::ListGuestProcessesResponse& l, uint32_t pid, uint32_t ppid, const std::string& comm,
                      const std::string& container = "", bool agent = false) {
  auto* p = l.add_processes();
  p->set_pid(pid);
  p->set_ppid(ppid);
  p->set_comm(comm);
  p->set_container_id(container);
  p->set_agent(agent);
  return p;
}

TEST(GuestProcesses, AgentContainerInitsAndChildrenGetTheirRoles) {
  auto wire = guest_list([](auto& l) {
    add(l, 300, 1, "cat", "c1");
    add(l, 1, 0, "agent", "", true);
    add(l, 200, 1, "sh", "c1");
    add(l, 201, 200, "cat", "c1");
    add(l, 50, 1, "pause", "c2");
  });
  auto g = decode_guest_processes(wire, {"c1", "c2"});
  ASSERT_TRUE(g) << g.error().describe();
  ASSERT_EQ(g->rows.size(), 5u);
  EXPECT_EQ(g->rows[0].pid, 1u) << "pid order";
  EXPECT_EQ(g->rows[0].role, "agent");
  EXPECT_EQ(find(g->rows, View::guest, 200)->role, "init");
  EXPECT_EQ(find(g->rows, View::guest, 201)->role, "");
  EXPECT_EQ(find(g->rows, View::guest, 50)->role, "init");
  EXPECT_EQ(find(g->rows, View::guest, 300)->role, "init") << "its parent is the agent";
  EXPECT_FALSE(g->truncated);
  EXPECT_EQ(g->refused, 0u);
}

TEST(GuestProcesses, AHostileTableIsBoundedCheckedAndEscaped) {
  GuestProcessLimits limits;
  limits.max_processes = 4;
  limits.max_field_bytes = 8;
  limits.max_cmdline_bytes = 16;
  auto wire = guest_list([](auto& l) {
    add(l, 0, 1, "zero");
    add(l, 5, 5, "loop");
    add(l, 99999999, 1, "huge");
    add(l, 8, 1, "in-c", "other-sb-c", true);  // an agent inside a container: no
    add(l, 6, 1, "agent", "", true);
    add(l, 7, 1, "agent2", "", true);         // a second "agent": only a name
    add(l, 8, 1, "dup");
    add(l, 9, 1, "\x1b[2Jclear-the-screen", "c1")->add_args(std::string(100, 'x'));
    add(l, 10, 1, "over-the-bound", "c1");
  });
  auto g = decode_guest_processes(wire, {"c1"}, limits);
  ASSERT_TRUE(g) << g.error().describe();
  ASSERT_EQ(g->rows.size(), 4u);
  EXPECT_TRUE(g->truncated);
  EXPECT_EQ(g->refused, 4u) << "pid 0, its own parent, above PID_MAX_LIMIT, a duplicate";
  EXPECT_EQ(find(g->rows, View::guest, 6)->role, "agent");
  EXPECT_EQ(find(g->rows, View::guest, 7)->role, "");
  const ProcessRow* in_c = find(g->rows, View::guest, 8);
  EXPECT_EQ(in_c->container_id, "") << "not a container of this sandbox";
  EXPECT_EQ(in_c->role, "");
  const ProcessRow* nasty = find(g->rows, View::guest, 9);
  EXPECT_EQ(nasty->name, "\\x1b[2Jclea...");
  EXPECT_LE(nasty->cmdline.size(), 16u + 4u);
  EXPECT_EQ(nasty->container_id, "c1");
  EXPECT_EQ(find(g->rows, View::guest, 10), nullptr);

  limits.max_wire_bytes = 16;
  auto big = decode_guest_processes(wire, {"c1"}, limits);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("more than the 16 allowed"), std::string::npos) << big.error().message;
  auto garbage = decode_guest_processes(std::string("\xff\xff\xff\xff", 4), {"c1"});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::invalid_argument);
}

TEST(LastAlerts, KeepTheLatestRulePerProcessWithinTheirCapacity) {
  LastAlerts marks(2);
  marks.record(View::guest, 10, "first", policy::Priority::notice, 1);
  marks.record(View::guest, 10, "second", policy::Priority::critical, 2);
  marks.record(View::host, 10, "host side", policy::Priority::warning, 3);
  marks.record(View::guest, 11, "evicts the oldest", policy::Priority::warning, 4);
  EXPECT_EQ(marks.size(), 2u);
  std::vector<ProcessRow> rows(3);
  rows[0].view = View::guest, rows[0].pid = 10;
  rows[1].view = View::host, rows[1].pid = 10;
  rows[2].view = View::guest, rows[2].pid = 11;
  marks.mark(rows);
  EXPECT_EQ(rows[0].last_alert, "") << "the least recently alerting process went first";
  EXPECT_EQ(rows[1].last_alert, "host side");
  EXPECT_EQ(rows[2].last_alert, "evicts the oldest");
  EXPECT_EQ(rows[2].last_alert_priority, "Warning");
}

TEST(JoinProcesses, KeepsTheHostSideWhenTheGuestCannotAnswer) {
  LastAlerts marks;
  marks.record(View::host, 101, "VMM spawned a shell", policy::Priority::critical, 5);
  ProcessRow vmm;
  vmm.pid = 101;
  vmm.role = "vmm";
  auto joined = join_processes({vmm}, fail(ErrorCode::timeout, "guest ListGuestProcesses for sandbox sb: the shim did not answer in time"), marks);
  ASSERT_EQ(joined.rows.size(), 1u);
  EXPECT_EQ(joined.rows[0].last_alert, "VMM spawned a shell");
  EXPECT_NE(joined.guest_error.find("did not answer in time"), std::string::npos) << joined.guest_error;
}

}  // namespace
}  // namespace kata_sentry::daemon
