// kata-trace against the real kata-sentryd: both run as processes (the daemon with its host
// probes, so root), a fake shim relay (tests/support/sentryd_harness.h) sends the guest's
// events, and kata-trace's stdout and stderr are read from files. Every wait ends on a positive
// marker: kata-trace prints "following ..." once the daemon has its subscription, and a
// stream's items arrive in order, so a later event's line proves an earlier one was filtered.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "sentryd.grpc.pb.h"
#include "tests/support/event_builder.h"
#include "tests/support/sentryd_harness.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::FakeVmm;
using testing::read_text;

// kata-trace as a child process with its output in files.
class TraceProcess {
 public:
  TraceProcess(const fs::path& dir, const std::string& name, const std::vector<std::string>& args)
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> argv{const_cast<char*>(KS_TRACE_BINARY)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(KS_TRACE_BINARY, argv.data());
      _exit(127);
    }
  }
  ~TraceProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }
  std::vector<std::string> out_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out());
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  // Waits until stderr (or stdout) holds `text` `times` times, or the process exits.
  bool wait_err(const std::string& text, int times = 1, std::chrono::milliseconds timeout = 30s) {
    return wait_for([&] { return count(err(), text) >= times; }, timeout);
  }
  bool wait_out_lines(size_t n, std::chrono::milliseconds timeout = 30s) {
    return wait_for([&] { return line_count() >= n; }, timeout);
  }
  size_t line_count() const {
    std::string text = out();
    return size_t(std::count(text.begin(), text.end(), '\n'));
  }
  // Exit status; interrupts first when `interrupt`.
  int finish(bool interrupt, std::chrono::milliseconds timeout = 20s) {
    if (interrupt) ::kill(pid_, SIGINT);
    auto end = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        exited_ = true;
        return -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    exited_ = true;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

 private:
  static int count(const std::string& hay, const std::string& needle) {
    int n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
  }
  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        return done();
      }
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  fs::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

class KataTrace : public testing::SentrydFixture {
 protected:
  std::vector<std::string> args(std::vector<std::string> rest) {
    rest.insert(rest.begin(), {"--socket", socket().string()});
    return rest;
  }
  // Runs kata-trace to its end.
  int run(const std::string& name, const std::vector<std::string>& rest, std::string* out, std::string* err) {
    TraceProcess p(dir_, name, args(rest));
    int code = p.finish(false, 30s);
    if (out) *out = p.out();
    if (err) *err = p.err();
    return code;
  }
};

TEST_F(KataTrace, EventsFollowWithAFilterShowsOnlyMatchingEventsAsTraceJson) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-trace", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-trace");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");

  TraceProcess trace(dir_, "events", args({"events", "-f", "--filter", "proc.name = cat", "-o", "json"}));
  ASSERT_TRUE(trace.wait_err("kata-trace: following events")) << trace.err();
  // Not matching first: the stream is in order, so once cat is shown, ls was filtered out.
  Event ls = EventBuilder().exec("/bin/ls", {"-l"}).guest().container("c1").build();
  Event cat = EventBuilder().exec("/bin/cat", {"/etc/hostname"}).guest().container("c1").pid(4242).build();
  ASSERT_TRUE(relay->send({ls, cat}, false));
  ASSERT_TRUE(trace.wait_out_lines(1)) << trace.err();
  EXPECT_EQ(trace.finish(true), 0) << trace.err();

  auto lines = trace.out_lines();
  ASSERT_EQ(lines.size(), 1u) << trace.out();
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["proc.name"], "cat");
  EXPECT_EQ(j["proc.pid"], 4242);
  EXPECT_EQ(j["container.id"], "c1");
  EXPECT_EQ(j["sandbox.id"], "sb-trace") << "tagged by the host";
  EXPECT_EQ(j["view"], "guest");
  EXPECT_NE(trace.err().find("1 event(s) shown; 0 dropped"), std::string::npos) << trace.err();
}

TEST_F(KataTrace, CompactOutputIsOneReadableLinePerEvent) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-compact", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-compact");
  TraceProcess trace(dir_, "compact", args({"events", "--count", "2", "--sandbox", "sb-compact", "--type", "execve,openat", "--color", "never"}));
  ASSERT_TRUE(trace.wait_err("kata-trace: following events")) << trace.err();
  Event exec = EventBuilder().exec("/bin/cat", {"/etc/hostname"}).guest().container("c1").build();
  Event open = EventBuilder().open("/etc/shadow").name("cat").guest().container("c1").res(-13).build();
  Event connect = EventBuilder().connect("10.0.0.1", 443).guest().container("c1").build();  // not a listed type
  ASSERT_TRUE(relay->send({exec, connect, open}, false));
  EXPECT_EQ(trace.finish(false), 0) << trace.err();  // --count 2: ends by itself
  auto lines = trace.out_lines();
  ASSERT_EQ(lines.size(), 2u) << trace.out();
  EXPECT_NE(lines[0].find("EXEC"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("sb-compact/c1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("/bin/cat /etc/hostname"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("OPEN"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("/etc/shadow"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("EACCES"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].find('\033'), std::string::npos) << "no colour unless asked";
}

TEST_F(KataTrace, ABadFilterIsRefusedByTheDaemonWithItsPositionAndExit2) {
  start("monitor");
  std::string out, err;
  EXPECT_EQ(run("badfilter", {"events", "-f", "--filter", "proc.name = cat and proc.nmae = ls"}, &out, &err), 2) << err;
  EXPECT_NE(err.find("kata-trace: filter:1:21: "), std::string::npos) << err;
  EXPECT_NE(err.find("proc.nmae"), std::string::npos) << err;
  EXPECT_EQ(out, "");

  EXPECT_EQ(run("badsyntax", {"events", "--filter", "proc.name = "}, &out, &err), 2) << err;
  EXPECT_NE(err.find("kata-trace: filter:1:"), std::string::npos) << err;

  // Bad flags: exit 2, one line.
  EXPECT_EQ(run("badflag", {"events", "--no-such-flag"}, &out, &err), 2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--no-such-flag"), std::string::npos) << err;
  EXPECT_EQ(run("badview", {"events", "--view", "sideways"}, &out, &err), 2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(run("badtype", {"events", "--type", "execve,teleport"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown event type 'teleport'"), std::string::npos) << err;

  // --help teaches with examples, exit 0.
  EXPECT_EQ(run("help", {"events", "--help"}, &out, &err), 0);
  EXPECT_NE(out.find("Examples:"), std::string::npos) << out;
  EXPECT_NE(out.find("--filter"), std::string::npos) << out;
}

TEST_F(KataTrace, SandboxesListsThePodThenNotAfterItIsRemoved) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-list", uint32_t(vmm.pid()), {"c1", "c2"}).ok());
  auto relay = attach("sb-list");
  ASSERT_TRUE(relay->send({EventBuilder().exec("/bin/true").guest().container("c1").build()}, false));
  std::string out, err;
  ASSERT_EQ(run("list1", {"sandboxes"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("SANDBOX"), std::string::npos) << out;
  EXPECT_NE(out.find("sb-list"), std::string::npos) << out;
  EXPECT_NE(out.find("shop/web"), std::string::npos) << out;
  EXPECT_NE(out.find("monitor"), std::string::npos) << out;

  ASSERT_EQ(run("list2", {"sandboxes", "-o", "json", "--no-rate"}, &out, &err), 0) << err;
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.size(), 1u) << out;
  EXPECT_EQ(j[0]["info"]["sandbox_id"], "sb-list");
  EXPECT_EQ(j[0]["info"]["container_ids"].size(), 2u);

  ASSERT_EQ(run("list3", {"sandboxes", "--no-headers", "--no-rate"}, &out, &err), 0) << err;
  EXPECT_EQ(out.find("SANDBOX"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("sb-list", 0), 0u) << out;

  ASSERT_TRUE(unregister("sb-list").ok());
  ASSERT_EQ(run("list4", {"sandboxes", "--no-rate"}, &out, &err), 0) << err;
  EXPECT_EQ(out.find("sb-list"), std::string::npos) << out;
}

TEST_F(KataTrace, AlertsFollowShowsTheAlertsTheSinksGet) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-alerts", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-alerts");
  TraceProcess trace(dir_, "alerts",
                     args({"alerts", "-f", "--count", "1", "--priority", "critical", "--rule", "Guest kernel module load", "-o", "json"}));
  ASSERT_TRUE(trace.wait_err("kata-trace: following alerts")) << trace.err();
  Event mod = EventBuilder().type(EventType::finit_module).name("insmod").guest().container("c1").res(0).build();
  ASSERT_TRUE(relay->send({mod}, false));
  ASSERT_EQ(trace.finish(false, 30s), 0) << trace.err();
  auto lines = trace.out_lines();
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["rule"], "Guest kernel module load");
  EXPECT_EQ(j["sandbox"], "sb-alerts");
  // The same alert the alerts file got. The file sink also carries the audit log record's own
  // identity (seq, uuid), which a live stream, ahead of the log, has not got.
  auto file = testing::wait_lines(alerts(), [](const nlohmann::json& l) { return l.value("rule", "") == "Guest kernel module load"; });
  ASSERT_EQ(file.size(), 1u);
  EXPECT_TRUE(file[0].contains("seq") && file[0].contains("uuid")) << file[0];
  file[0].erase("seq");
  file[0].erase("uuid");
  EXPECT_EQ(file[0], j);
}

TEST_F(KataTrace, ReconnectKeepsTheStreamAcrossADaemonRestart) {
  start("monitor");
  TraceProcess trace(dir_, "reconnect", args({"events", "-f", "--reconnect", "--filter", "proc.name = cat", "-o", "json"}));
  ASSERT_TRUE(trace.wait_err("kata-trace: following events", 1)) << trace.err();
  stop();
  ASSERT_TRUE(trace.wait_err("reconnecting")) << trace.err();
  start_configured();
  ASSERT_TRUE(trace.wait_err("kata-trace: following events", 2)) << trace.err();
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-again", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-again");
  ASSERT_TRUE(relay->send({EventBuilder().exec("/bin/cat").guest().container("c1").build()}, false));
  ASSERT_TRUE(trace.wait_out_lines(1)) << trace.err();
  EXPECT_EQ(trace.finish(true), 0) << trace.err();
  EXPECT_EQ(nlohmann::json::parse(trace.out_lines().at(0))["sandbox.id"], "sb-again");
}

TEST_F(KataTrace, WithoutReconnectTheStreamEndsWhenTheDaemonStops) {
  start("monitor");
  TraceProcess trace(dir_, "noreconnect", args({"events", "-f"}));
  ASSERT_TRUE(trace.wait_err("kata-trace: following events")) << trace.err();
  stop();
  EXPECT_EQ(trace.finish(false), 0) << trace.err();
  // And with no daemon at all: exit 1, naming the socket.
  std::string err;
  EXPECT_EQ(run("nodaemon", {"sandboxes"}, nullptr, &err), 1);
  EXPECT_NE(err.find(socket().string()), std::string::npos) << err;
}

// A kata-trace that stops reading (SIGSTOP) fills its own queue in the daemon and loses events
// there, counted; another kata-trace and the engine get every event. When it runs again it is
// told how many it lost.
TEST_F(KataTrace, ASlowSubscriberDoesNotSlowAnother) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-slow", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-slow");

  TraceProcess slow(dir_, "slow", args({"events", "-f", "--sandbox", "sb-slow", "-o", "json"}));
  ASSERT_TRUE(slow.wait_err("kata-trace: following events")) << slow.err();
  ASSERT_EQ(::kill(slow.pid(), SIGSTOP), 0);
  TraceProcess fast(dir_, "fast", args({"events", "-f", "--sandbox", "sb-slow", "-o", "json"}));
  ASSERT_TRUE(fast.wait_err("kata-trace: following events")) << fast.err();

  // More than the daemon's per-subscriber queue (8192) plus what gRPC and the socket buffer
  // for the stopped one. Each batch goes out once the running subscriber has shown the ones
  // before it: it is never behind by more than a batch, so any drop is the stopped one's.
  constexpr int kEvents = 30000, kBatch = 500;
  for (int i = 0; i < kEvents; i += kBatch) {
    std::vector<Event> batch;
    for (int k = 0; k < kBatch; ++k)
      batch.push_back(EventBuilder().open("/data/f" + std::to_string(i + k)).name("writer").guest().container("c1").build());
    ASSERT_TRUE(relay->send(std::move(batch), false));
    ASSERT_TRUE(fast.wait_out_lines(size_t(i + kBatch), 60s)) << fast.line_count() << " lines; " << fast.err() << list().DebugString();
  }

  auto l = list();
  ASSERT_EQ(l.sandboxes_size(), 1);
  EXPECT_EQ(l.sandboxes(0).guest_events(), uint64_t(kEvents)) << "the engine saw every event";
  uint64_t slow_dropped = 0, fast_dropped = 1;
  for (const auto& s : l.subscribers()) {
    if (s.client() == "kata-trace events (pid " + std::to_string(slow.pid()) + ")") slow_dropped = s.dropped();
    if (s.client() == "kata-trace events (pid " + std::to_string(fast.pid()) + ")") fast_dropped = s.dropped();
  }
  EXPECT_GT(slow_dropped, 0u) << "the stopped subscriber's own queue overflowed: " << l.DebugString();
  EXPECT_EQ(fast_dropped, 0u) << l.DebugString();
  EXPECT_EQ(fast.finish(true), 0);
  EXPECT_EQ(fast.line_count(), size_t(kEvents));
  EXPECT_NE(fast.err().find(std::to_string(kEvents) + " event(s) shown; 0 dropped by kata-sentryd"), std::string::npos) << fast.err();

  // Running again, the slow one drains its queue and learns its count.
  ASSERT_EQ(::kill(slow.pid(), SIGCONT), 0);
  ASSERT_TRUE(slow.wait_out_lines(size_t(kEvents - slow_dropped), 60s)) << slow.line_count() << " lines; " << slow.err();
  EXPECT_EQ(slow.finish(true), 0);
  EXPECT_EQ(slow.line_count(), size_t(kEvents - slow_dropped));
  EXPECT_NE(slow.err().find("; " + std::to_string(slow_dropped) + " dropped by kata-sentryd for this client"), std::string::npos)
      << slow.err();
}

// One guest process for a fake shim's answer to list_guest_processes.
void add_guest_process(v1::ListGuestProcessesResponse& l, uint32_t pid, uint32_t ppid, const std::string& comm,
                       const std::string& container, bool agent = false, std::vector<std::string> args = {}) {
  auto* p = l.add_processes();
  p->set_pid(pid);
  p->set_ppid(ppid);
  p->set_comm(comm);
  p->set_exepath("/bin/" + comm);
  for (auto& a : args) p->add_args(a);
  p->set_container_id(container);
  p->set_agent(agent);
}

// The line of `text` that holds `needle` (empty when none).
std::string line_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find(needle) != std::string::npos) return l;
  return {};
}

// The host side is the daemon's own /proc (the fake VMM's parent, this test, plays the shim);
// the guest side is what the shim relays from the agent. An alert marks the process that raised it.
TEST_F(KataTrace, PsAndTreeJoinTheHostProcessesWithTheGuestTableAndMarkTheLastAlert) {
  start("monitor");
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-ps", uint32_t(vmm.pid()), {"c1"}).ok());
  auto relay = attach("sb-ps");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");
  {
    std::lock_guard lock(relay->mu);
    relay->answer = [](const v1::RelayCommand& c, v1::RelayResult& r) {
      if (!c.has_list_guest_processes()) return;
      v1::ListGuestProcessesResponse l;
      add_guest_process(l, 1, 0, "kata-sentry-agent", "", true);
      add_guest_process(l, 40, 1, "sh", "c1");
      add_guest_process(l, 41, 40, "insmod", "c1", false, {"evil.ko"});
      r.set_guest_processes(l.SerializeAsString());
    };
  }
  // The alert is published after the daemon noted it for the process: seeing it is the marker.
  TraceProcess alerts(dir_, "alerts", args({"alerts", "-f", "--count", "1", "--rule", "Guest kernel module load"}));
  ASSERT_TRUE(alerts.wait_err("kata-trace: following alerts")) << alerts.err();
  ASSERT_TRUE(relay->send({EventBuilder().type(EventType::finit_module).name("insmod").guest().container("c1").pid(41).res(0).build()}, false));
  ASSERT_EQ(alerts.finish(false, 30s), 0) << alerts.err();

  std::string out, err;
  ASSERT_EQ(run("tree", {"tree", "sb-ps"}, &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  std::string shim = line_with(out, "[" + std::to_string(::getpid()) + "] shim");
  std::string qemu = line_with(out, "[" + std::to_string(vmm.pid()) + "] vmm");
  std::string agent = line_with(out, "kata-sentry-agent[1] agent");
  std::string sh = line_with(out, "sh[40] init container=c1");
  std::string insmod = line_with(out, "insmod[41] container=c1");
  ASSERT_FALSE(shim.empty() || qemu.empty() || agent.empty() || sh.empty() || insmod.empty()) << out;
  // Each child one level deeper than its parent; host before guest.
  auto depth = [](const std::string& l) { return l.find_first_not_of(" │├└─"); };
  EXPECT_LT(depth(shim), depth(qemu)) << out;
  EXPECT_LT(depth(agent), depth(sh)) << out;
  EXPECT_LT(depth(sh), depth(insmod)) << out;
  EXPECT_LT(out.find("host\n"), out.find(shim)) << out;
  EXPECT_LT(out.find(qemu), out.find("guest\n")) << out;
  EXPECT_LT(out.find("guest\n"), out.find(agent)) << out;
  EXPECT_NE(insmod.find("evil.ko"), std::string::npos) << insmod;
  EXPECT_NE(insmod.find("! Guest kernel module load (Critical)"), std::string::npos) << insmod;
  EXPECT_EQ(sh.find("!"), std::string::npos) << "sh raised no alert: " << sh;

  ASSERT_EQ(run("ps", {"ps", "sb-ps", "-o", "json"}, &out, &err), 0) << err;
  auto rows = nlohmann::json::parse(out);
  int guest = 0;
  for (const auto& r : rows) {
    if (r["view"] != "VIEW_GUEST") continue;
    ++guest;
    if (r["pid"] == 41) {
      EXPECT_EQ(r["last_alert"], "Guest kernel module load");
      EXPECT_EQ(r["container_id"], "c1");
    }
  }
  EXPECT_EQ(guest, 3) << out;
  ASSERT_EQ(run("ps-table", {"ps", "sb-ps", "--no-headers"}, &out, &err), 0) << err;
  EXPECT_EQ(out.find("VIEW"), std::string::npos) << out;
  EXPECT_NE(line_with(out, "insmod evil.ko").find("Guest kernel module load (Critical)"), std::string::npos) << out;
}

// What a hostile guest puts in its process table is bounded and checked by the daemon: too
// many entries are cut (and said so), impossible ones refused, text escaped, and a container
// the shim did not register for this sandbox (another sandbox's) is never named.
TEST_F(KataTrace, AHostileGuestProcessTableIsBoundedValidatedAndCannotNameAnotherSandbox) {
  start("monitor");
  FakeVmm vmm_a, vmm_b;
  ASSERT_TRUE(register_sandbox("sb-hostile", uint32_t(vmm_a.pid()), {"c1"}).ok());
  ASSERT_TRUE(register_sandbox("sb-victim", uint32_t(vmm_b.pid()), {"victim-c"}).ok());
  auto relay = attach("sb-hostile");
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");
  {
    std::lock_guard lock(relay->mu);
    relay->answer = [](const v1::RelayCommand& c, v1::RelayResult& r) {
      if (!c.has_list_guest_processes()) return;
      v1::ListGuestProcessesResponse l;
      add_guest_process(l, 0, 1, "zero", "c1");                         // no pid 0
      add_guest_process(l, 7, 7, "self", "c1");                         // its own parent
      add_guest_process(l, 9, 1, "dup", "c1");
      add_guest_process(l, 9, 1, "dup-again", "c1");                    // the same pid twice
      add_guest_process(l, 10, 1, "\x1b]0;owned\x07", "victim-c");      // a terminal escape; another sandbox's container
      add_guest_process(l, 11, 1, "long", "c1", false, {std::string(100000, 'A')});
      for (uint32_t pid = 100; pid < 5100; ++pid) add_guest_process(l, pid, 1, "p", "c1");
      r.set_guest_processes(l.SerializeAsString());
    };
  }
  std::string out, err;
  ASSERT_EQ(run("ps", {"ps", "sb-hostile", "-o", "json"}, &out, &err), 0) << err;
  auto rows = nlohmann::json::parse(out);
  size_t guest = 0;
  for (const auto& r : rows) {
    if (r["view"] != "VIEW_GUEST") continue;
    ++guest;
    EXPECT_NE(r["pid"], 0);
    EXPECT_NE(r["pid"], 7);
    EXPECT_NE(r["container_id"], "victim-c") << r;
    EXPECT_NE(r["name"], "dup-again");
    EXPECT_LE(r["cmdline"].get<std::string>().size(), 600u);
    EXPECT_EQ(r["name"].get<std::string>().find('\x1b'), std::string::npos) << r;
    if (r["pid"] == 10) {
      EXPECT_EQ(r["name"], "\\x1b]0;owned\\x07");
      EXPECT_EQ(r["container_id"], "");
    }
  }
  EXPECT_EQ(guest, 2048u) << "the daemon's bound";
  EXPECT_NE(err.find("kata-trace: the guest has more processes than listed"), std::string::npos) << err;
  EXPECT_NE(err.find("kata-trace: 3 invalid guest process entries refused"), std::string::npos) << err;

  // Bytes that are no process list at all: the host part still comes, with the reason.
  {
    std::lock_guard lock(relay->mu);
    relay->answer = [](const v1::RelayCommand& c, v1::RelayResult& r) {
      if (c.has_list_guest_processes()) r.set_guest_processes(std::string("\xff\xff\xff\xff garbage", 12));
    };
  }
  ASSERT_EQ(run("tree", {"tree", "sb-hostile"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("[" + std::to_string(vmm_a.pid()) + "] vmm"), std::string::npos) << out;
  EXPECT_NE(out.find("guest\n   (none listed)"), std::string::npos) << out;
  EXPECT_NE(err.find("kata-trace: guest processes unavailable: "), std::string::npos) << err;

  // Usage: a missing sandbox is exit 2 with one line; an unknown one exit 1 naming it.
  ASSERT_EQ(run("noarg", {"tree"}, &out, &err), 2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  ASSERT_EQ(run("unknown", {"ps", "sb-nope"}, &out, &err), 1);
  EXPECT_NE(err.find("sb-nope"), std::string::npos) << err;
}

}  // namespace
}  // namespace kata_sentry
