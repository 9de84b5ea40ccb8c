// The agent end to end without a VM (root): the real service launches real containers from a
// static busybox rootfs, driven by the real client over a socketpair. Container cgroups live
// under /sys/fs/cgroup/unified/ks-agent-rpc-<pid>; every test checks nothing is left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/oci/oci_spec.h"
#include "tests/agent_rpc/agent_harness.h"
#include "tests/support/busybox_rootfs.h"

namespace kata_sentry::testing {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Output of one process, collected by a ReadOutput stream on its own thread.
class OutputReader {
 public:
  OutputReader(runtime::AgentClient* c, std::string cid, std::string eid = "") {
    thread_ = std::thread([=, this] {
      result_ = c->read_output(cid, eid, [this](std::string_view s) { out_ += s; },
                               [this](std::string_view s) { err_ += s; });
    });
  }
  ~OutputReader() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits for the stream to end.
  const std::string& out() { join(); return out_; }
  const std::string& err() { join(); return err_; }
  Status result() { join(); return result_; }

 private:
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::thread thread_;
  std::string out_, err_;
  Status result_;
};

class AgentContainers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    shared_ = fs::temp_directory_path() / ("ks-agent-rpc-" + std::to_string(::getpid()));
    if (fs::exists("/bin/busybox")) rootfs_error_ = testing::make_busybox_rootfs(shared_ / "rootfs");
    cgroup_parent_ = "/sys/fs/cgroup/unified/ks-agent-rpc-" + std::to_string(::getpid());
  }

  static void TearDownTestSuite() {
    if (!shared_.empty()) fs::remove_all(shared_);
    if (!cgroup_parent_.empty()) ::rmdir(cgroup_parent_.c_str());
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) to create namespaces and mounts";
    if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
    ASSERT_EQ(rootfs_error_, "");
  }

  void TearDown() override {
    agent_.reset();
    // A killed agent process leaves its containers behind: kill them through their cgroups
    // (and fail the test if a container outlived an agent that shut down normally).
    if (fs::exists(cgroup_parent_)) {
      for (const auto& e : fs::directory_iterator(cgroup_parent_)) {
        if (!e.is_directory()) continue;
        if (!expect_leftovers_) ADD_FAILURE() << "leftover cgroup " << e.path();
        std::ofstream(e.path() / "cgroup.kill") << "1";
        for (int i = 0; i < 100 && !read_text(e.path() / "cgroup.procs").empty(); ++i)
          std::this_thread::sleep_for(20ms);
        ::rmdir(e.path().c_str());
      }
    }
    EXPECT_EQ(read_text("/proc/self/mountinfo").find(shared_.string()), std::string::npos)
        << "leftover mount";
    for (const auto& e : fs::directory_iterator(shared_))
      if (e.path().filename() != "rootfs") fs::remove_all(e.path());
  }

  agent::AgentServerOptions server_options() const {
    agent::AgentServerOptions o;
    o.shared_dir = shared_;
    o.cgroup_parent = cgroup_parent_;
    return o;
  }

  runtime::AgentClient* start_agent(std::optional<agent::AgentServerOptions> options = std::nullopt) {
    agent_ = std::make_unique<InProcessAgent>(options.value_or(server_options()));
    runtime::AgentClient* c = agent_->client();
    EXPECT_TRUE(c->wait_ready(10s));
    auto s = c->create_sandbox({.hostname = "sb"});
    EXPECT_TRUE(s) << s.error().describe();
    return c;
  }

  // A default (unprivileged) spec over the shared busybox rootfs.
  std::string spec(std::vector<std::string> args) const {
    OciSpec s = default_oci_spec(std::move(args), false);
    s.root.path = (shared_ / "rootfs").string();
    s.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev"}});
    return oci_spec_to_json(s);
  }

  void create(runtime::AgentClient* c, const std::string& id, std::vector<std::string> args,
              bool open_stdin = false) {
    fs::create_directories(shared_ / id);
    auto s = c->create_container(id, spec(std::move(args)), {.open_stdin = open_stdin});
    ASSERT_TRUE(s) << s.error().describe();
  }

  struct Run {
    std::string out, err;
    runtime::ExitStatus status;
  };

  // Create, attach output, start, feed stdin, wait, remove.
  Run run(runtime::AgentClient* c, const std::string& id, std::vector<std::string> args,
          std::optional<std::string> input = std::nullopt) {
    Run r;
    create(c, id, std::move(args), input.has_value());
    OutputReader output(c, id);
    auto st = c->start_container(id);
    EXPECT_TRUE(st) << st.error().describe();
    if (input) {
      EXPECT_TRUE(c->write_stdin(id, "", *input));
      EXPECT_TRUE(c->close_stdin(id, ""));
    }
    auto w = c->wait_process(id, "");
    EXPECT_TRUE(w) << w.error().describe();
    if (w) r.status = *w;
    EXPECT_TRUE(output.result());
    r.out = output.out();
    r.err = output.err();
    EXPECT_TRUE(c->remove_container(id));
    return r;
  }

  static fs::path shared_;
  static fs::path cgroup_parent_;
  static std::string rootfs_error_;
  std::unique_ptr<InProcessAgent> agent_;
  bool expect_leftovers_ = false;
};

fs::path AgentContainers::shared_;
fs::path AgentContainers::cgroup_parent_;
std::string AgentContainers::rootfs_error_;

TEST_F(AgentContainers, EchoHello) {
  auto* c = start_agent();
  Run r = run(c, "c1", {"echo", "hello"});
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.status.exit_code, 0);
}

TEST_F(AgentContainers, ExitCodePropagates) {
  auto* c = start_agent();
  Run r = run(c, "c1", {"sh", "-c", "exit 7"});
  ASSERT_TRUE(r.status.exit_code.has_value());
  EXPECT_EQ(*r.status.exit_code, 7);
  EXPECT_FALSE(r.status.signal.has_value());
}

TEST_F(AgentContainers, StdoutAndStderrStayApart) {
  auto* c = start_agent();
  Run r = run(c, "c1", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.status.exit_code, 3);
}

TEST_F(AgentContainers, StdinIsPipedThrough) {
  auto* c = start_agent();
  std::string input;
  for (int i = 0; i < 5000; ++i) input += "line " + std::to_string(i) + "\n";  // > one pipe buffer
  Run r = run(c, "c1", {"cat"}, input);
  EXPECT_EQ(r.out, input);
  EXPECT_EQ(r.status.exit_code, 0);
}

TEST_F(AgentContainers, SignalsReachProcessesExactly) {
  auto* c = start_agent();
  create(c, "c1", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  // A pid-namespace init ignores signals it has no handler for, so SIGTERM goes to an exec'd
  // sleep; the init itself gets SIGKILL.
  ASSERT_TRUE(c->exec_process("c1", "e1", {.args = {"sleep", "500"}}));
  auto s = c->signal_process("c1", "e1", SIGTERM);
  ASSERT_TRUE(s) << s.error().describe();
  auto w = c->wait_process("c1", "e1");
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ(w->signal, SIGTERM);
  EXPECT_FALSE(w->exit_code.has_value());
  EXPECT_EQ(w->shell_code(), 128 + SIGTERM);

  ASSERT_TRUE(c->exec_process("c1", "e2", {.args = {"sh", "-c", "kill -SEGV $$"}}));
  auto segv = c->wait_process("c1", "e2");
  ASSERT_TRUE(segv);
  EXPECT_EQ(segv->signal, SIGSEGV);

  ASSERT_TRUE(c->signal_process("c1", "", SIGKILL));
  auto init = c->wait_process("c1", "");
  ASSERT_TRUE(init) << init.error().describe();
  EXPECT_EQ(init->signal, SIGKILL);
  // The init's status stays until RemoveContainer; an exec is forgotten once its status was
  // collected and its output read to the end.
  EXPECT_TRUE(c->wait_process("c1", ""));
  EXPECT_TRUE(c->wait_process("c1", "e1"));
  EXPECT_TRUE(c->read_output("c1", "e1", nullptr, nullptr));
  auto again = c->wait_process("c1", "e1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::not_found);
  EXPECT_TRUE(c->remove_container("c1"));
}

TEST_F(AgentContainers, ExecRunsInsideTheContainer) {
  auto* c = start_agent();
  create(c, "c1", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  ASSERT_TRUE(c->exec_process("c1", "e1", {.args = {"sh", "-c", "hostname; echo $$; exit 5"}}));
  OutputReader out(c, "c1", "e1");
  auto w = c->wait_process("c1", "e1");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->exit_code, 5);
  EXPECT_EQ(out.out(), "kata-sentry\n2\n");  // the spec's hostname; pid 2 in the container's pid ns

  // The OCI-process form, with a bad field named in the error.
  auto bad = c->exec_process("c1", "e2", {.oci_process_json = R"({"args":["true"],"cwd":7})"});
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("process.cwd"));
  ASSERT_TRUE(c->exec_process("c1", "e3", {.oci_process_json = R"({"args":["pwd"],"cwd":"/tmp"})"}));
  OutputReader pwd(c, "c1", "e3");
  EXPECT_EQ(pwd.out(), "/tmp\n");
  EXPECT_EQ(c->wait_process("c1", "e3")->exit_code, 0);

  auto stats = c->stats_container("c1");
  ASSERT_TRUE(stats) << stats.error().describe();
  // cpu.stat is a core cgroup v2 file, present without the cpu controller.
  EXPECT_TRUE(stats->cpu_usage_usec.has_value());
  EXPECT_TRUE(c->remove_container("c1"));
}

// The agent's channel, pipes, pidfds and eventfd are all close-on-exec: a container process
// sees only its stdio (and the fd ls opens for the directory itself).
TEST_F(AgentContainers, NoAgentFdReachesTheContainer) {
  auto* c = start_agent();
  Run r = run(c, "c1", {"ls", "/proc/self/fd"});
  EXPECT_EQ(r.out, "0\n1\n2\n3\n");
  create(c, "c2", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c2"));
  ASSERT_TRUE(c->exec_process("c2", "e1", {.args = {"ls", "/proc/self/fd"}, .open_stdin = true}));
  OutputReader out(c, "c2", "e1");
  EXPECT_EQ(out.out(), "0\n1\n2\n3\n");
  EXPECT_TRUE(c->wait_process("c2", "e1"));
  EXPECT_TRUE(c->remove_container("c2"));
}

// Exec records stay until status and output are both collected, but a host that never reads
// exec output cannot use up the process limit: collected records make room.
TEST_F(AgentContainers, UnreadExecRecordsMakeRoom) {
  auto opts = server_options();
  opts.max_processes = 3;
  auto* c = start_agent(opts);
  create(c, "c1", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  for (int i = 0; i < 6; ++i) {
    std::string eid = "e" + std::to_string(i);
    auto s = c->exec_process("c1", eid, {.args = {"echo", eid}});
    ASSERT_TRUE(s) << s.error().describe();
    ASSERT_TRUE(c->wait_process("c1", eid));
  }
  ASSERT_TRUE(c->exec_process("c1", "live1", {.args = {"sleep", "100"}}));
  ASSERT_TRUE(c->exec_process("c1", "live2", {.args = {"sleep", "100"}}));
  auto full = c->exec_process("c1", "live3", {.args = {"sleep", "100"}});
  ASSERT_FALSE(full);  // running processes are never forgotten
  EXPECT_THAT(full.error().message, HasSubstr("too many processes"));
  EXPECT_TRUE(c->remove_container("c1"));
}

TEST_F(AgentContainers, TwoContainersAtOnce) {
  auto* c = start_agent();
  create(c, "ca", {"sh", "-c", "read x; echo a-$x"}, true);
  create(c, "cb", {"sh", "-c", "read x; echo b-$x"}, true);
  OutputReader out_a(c, "ca"), out_b(c, "cb");
  ASSERT_TRUE(c->start_container("ca"));
  ASSERT_TRUE(c->start_container("cb"));
  // Both are running now; answer b first to show they are independent.
  ASSERT_TRUE(c->write_stdin("cb", "", "two\n"));
  auto wb = c->wait_process("cb", "");
  ASSERT_TRUE(wb);
  EXPECT_EQ(out_b.out(), "b-two\n");
  ASSERT_TRUE(c->write_stdin("ca", "", "one\n"));
  auto wa = c->wait_process("ca", "");
  ASSERT_TRUE(wa);
  EXPECT_EQ(out_a.out(), "a-one\n");
  EXPECT_TRUE(c->remove_container("ca"));
  EXPECT_TRUE(c->remove_container("cb"));
}

TEST_F(AgentContainers, StartFailureIsClear) {
  auto* c = start_agent();
  create(c, "c1", {"/bin/nosuch"});
  auto s = c->start_container("c1");
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("agent StartContainer c1"));
  EXPECT_THAT(s.error().message, HasSubstr("nosuch"));
  auto w = c->wait_process("c1", "");  // never ran: does not hang
  ASSERT_TRUE(w);
  EXPECT_EQ(w->exit_code, 127);
  EXPECT_TRUE(c->remove_container("c1"));
}

TEST_F(AgentContainers, DuplicateAndUnknownContainers) {
  auto* c = start_agent();
  create(c, "c1", {"true"});
  auto dup = c->create_container("c1", spec({"true"}));
  ASSERT_FALSE(dup);
  EXPECT_THAT(dup.error().message, HasSubstr("already exists"));
  auto unknown = c->start_container("nosuch");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
  EXPECT_TRUE(c->remove_container("c1"));  // created, never started
}

TEST_F(AgentContainers, RemoveEndsAWaitInsteadOfHanging) {
  auto* c = start_agent();
  create(c, "c1", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  OutputReader out(c, "c1");
  Result<runtime::ExitStatus> w;
  std::thread waiter([&] { w = c->wait_process("c1", ""); });
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(c->remove_container("c1"));
  waiter.join();
  EXPECT_FALSE(w);
  EXPECT_TRUE(out.result());  // the pipes closed when the container died
}

TEST_F(AgentContainers, DestroySandboxKillsEverything) {
  auto* c = start_agent();
  create(c, "c1", {"sleep", "1000"});
  create(c, "c2", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  ASSERT_TRUE(c->start_container("c2"));
  ASSERT_TRUE(c->exec_process("c2", "e1", {.args = {"sleep", "999"}}));
  auto s = c->destroy_sandbox();
  ASSERT_TRUE(s) << s.error().describe();
  auto served = agent_->join();
  EXPECT_TRUE(served);
  // TearDown fails the test if a container cgroup is left.
}

TEST_F(AgentContainers, KilledAgentEndsStreamsWithAClearError) {
  AgentProcess agent(AGENT_RPC_SERVER_HELPER, shared_, cgroup_parent_);
  expect_leftovers_ = true;  // a SIGKILLed agent cannot clean up; TearDown does
  auto* c = agent.client();
  ASSERT_TRUE(c->wait_ready(10s));
  ASSERT_TRUE(c->create_sandbox({}));
  create(c, "c1", {"sleep", "1000"});
  ASSERT_TRUE(c->start_container("c1"));
  OutputReader out(c, "c1");
  Result<runtime::ExitStatus> w;
  std::thread waiter([&] { w = c->wait_process("c1", ""); });
  std::this_thread::sleep_for(300ms);
  auto start = std::chrono::steady_clock::now();
  agent.kill();
  waiter.join();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message, "agent WaitProcess c1: connection lost (guest died?)");
  auto r = out.result();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "agent ReadOutput c1: connection lost (guest died?)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace kata_sentry::testing
