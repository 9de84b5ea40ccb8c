// The shim driven the way containerd 1.6 drives it, against a private containerd per test
// (own root, state, socket and namespace; CRI disabled): `start` prints an address that answers
// ttrpc, `delete` writes a DeleteResponse, pods share one shim, events reach containerd through
// the publish binary, and `ctr run` goes through the whole path and leaves nothing behind.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/cgroup2.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb.h"
#include "runtime/shim/events.h"
#include "runtime/shim/shim_main.h"
#include "runtime/shim/task_service.h"
#include "runtime/shim/ttrpc/client.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::shim {
namespace {

namespace fs = std::filesystem;
namespace v2 = ::containerd::task::v2;
using namespace std::chrono_literals;

using test_support::CmdResult;
using test_support::PrivateContainerd;
using test_support::processes_with;
using test_support::read_text;
using test_support::run;
using test_support::wait_gone;

std::string socket_path(const std::string& address) { return address.substr(std::string("unix://").size()); }

class ShimE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (containerd, /run/containerd/s)";
    if (run({"containerd", "--version"}).status != 0) GTEST_SKIP() << "containerd is not installed (scripts/setup.sh)";
    // These tests are about the shim itself: fail-open lets pods run without kata-sentryd
    // (tests/shim/sentryd_e2e_test.cpp runs them under a real daemon, and fail-closed).
    test_support::PrivateContainerdOptions o;
    o.env = {{"KATA_SENTRY_SHIM_CONFIG", config_.write("shim.yaml", "daemon_policy: fail-open\n").string()}};
    auto st = cd_.start(o);
    ASSERT_TRUE(st) << st.error().describe();
  }
  // A bundle directory as containerd makes it (config.json), under the test's containerd dir.
  fs::path make_bundle(const std::string& id, const std::string& annotations_json = "{}") {
    fs::path b = cd_.dir() / "bundles" / id;
    fs::create_directories(b);
    std::ofstream(b / "config.json") << R"({"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"annotations":)"
                                     << annotations_json << "}";
    return b;
  }
  // `start` exactly as containerd runs it: cwd = bundle, stdout and stderr combined.
  CmdResult shim_start(const std::string& id, const fs::path& bundle) {
    return run({KS_SHIM_BINARY, "-namespace", cd_.ns(), "-address", cd_.socket().string(), "-publish-binary",
                "/usr/bin/containerd", "-id", id, "start"},
               bundle.string());
  }
  CmdResult shim_delete(const std::string& id, const fs::path& bundle) {
    return run({KS_SHIM_BINARY, "-namespace", cd_.ns(), "-address", cd_.socket().string(), "-publish-binary",
                "/usr/bin/containerd", "-id", id, "-bundle", bundle.string(), "delete"},
               bundle.string(), /*merge_stderr=*/false);
  }
  std::unique_ptr<ttrpc::Client> connect(const std::string& address) {
    auto c = ttrpc::Client::connect(address);
    EXPECT_TRUE(c) << c.error().describe();
    return c ? std::move(*c) : nullptr;
  }
  uint32_t shim_pid(ttrpc::Client& c) {
    auto r = c.call(kTaskService, "Connect", v2::ConnectRequest().SerializeAsString());
    EXPECT_TRUE(r) << r.error().message;
    v2::ConnectResponse resp;
    if (r) resp.ParseFromString(*r);
    return resp.shim_pid();
  }
  void shutdown_shim(ttrpc::Client& c, pid_t pid) {
    v2::ShutdownRequest req;
    auto r = c.call(kTaskService, "Shutdown", req.SerializeAsString());
    EXPECT_TRUE(r || r.error().code == ttrpc::Code::unavailable);
    EXPECT_TRUE(wait_gone(pid, 5s)) << "shim " << pid << " did not exit after Shutdown";
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "--- containerd.log (tail) ---\n" << cd_.log_tail() << "\n";
  }

  std::vector<pid_t> shim_processes() { return cd_.shim_processes(); }

  test_support::TempDir config_{"ks-shim-e2e-"};
  PrivateContainerd cd_;
};

TEST_F(ShimE2e, StartPrintsOnlyAnAddressThatAnswersTtrpcAndDeleteCleansUp) {
  fs::path bundle = make_bundle("t5");
  auto started = shim_start("t5", bundle);
  ASSERT_EQ(started.status, 0) << started.out;
  const std::string address = started.out;
  ASSERT_TRUE(address.starts_with("unix:///run/containerd/s/")) << "stdout+stderr must be the address alone: [" << address << "]";
  EXPECT_EQ(address.find('\n'), std::string::npos);
  EXPECT_EQ(read_text(bundle / "address"), address);
  struct stat sb{};
  ASSERT_EQ(::stat(socket_path(address).c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 0777, 0600u);

  auto c = connect(address);
  ASSERT_TRUE(c);
  pid_t pid = pid_t(shim_pid(*c));
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::getsid(pid), pid) << "the server runs in its own session, detached from containerd";

  v2::StateRequest sreq;
  sreq.set_id("t5");
  auto state = c->call(kTaskService, "State", sreq.SerializeAsString());
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().code, ttrpc::Code::not_found);

  // A second start for the same task finds the live shim and prints the same address.
  auto again = shim_start("t5", bundle);
  EXPECT_EQ(again.status, 0);
  EXPECT_EQ(again.out, address);
  EXPECT_EQ(shim_processes().size(), 1u);

  shutdown_shim(*c, pid);
  c.reset();
  EXPECT_FALSE(fs::exists(socket_path(address))) << "the exiting shim removes its socket";

  auto deleted = shim_delete("t5", bundle);
  ASSERT_EQ(deleted.status, 0);
  v2::DeleteResponse resp;
  ASSERT_TRUE(resp.ParseFromString(deleted.out));
  EXPECT_EQ(resp.exit_status(), 137u);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(double(resp.exited_at().seconds()), double(now), 60.0);
  EXPECT_FALSE(fs::exists(bundle / "address"));
}

TEST_F(ShimE2e, DeleteAfterTheShimWasKilledRemovesItsSocket) {
  fs::path bundle = make_bundle("t6");
  auto started = shim_start("t6", bundle);
  ASSERT_EQ(started.status, 0) << started.out;
  auto c = connect(started.out);
  ASSERT_TRUE(c);
  pid_t pid = pid_t(shim_pid(*c));
  c.reset();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_gone(pid, 5s));
  EXPECT_TRUE(fs::exists(socket_path(started.out))) << "a killed shim cannot clean up itself";
  auto deleted = shim_delete("t6", bundle);
  ASSERT_EQ(deleted.status, 0);
  v2::DeleteResponse resp;
  ASSERT_TRUE(resp.ParseFromString(deleted.out));
  EXPECT_EQ(resp.exit_status(), 137u);
  EXPECT_FALSE(fs::exists(socket_path(started.out)));
}

TEST_F(ShimE2e, ContainersOfOnePodShareTheSandboxShim) {
  fs::path sandbox = make_bundle("sb1", R"({"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"sb1"})");
  fs::path container = make_bundle("c1", R"({"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"sb1"})");
  fs::path other = make_bundle("solo");
  auto s = shim_start("sb1", sandbox);
  ASSERT_EQ(s.status, 0) << s.out;
  auto c = shim_start("c1", container);
  ASSERT_EQ(c.status, 0) << c.out;
  EXPECT_EQ(c.out, s.out) << "one VM (one shim) per pod";
  auto o = shim_start("solo", other);
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out, s.out) << "a plain task is a pod of its own";
  EXPECT_EQ(shim_processes().size(), 2u);
  for (const auto& a : {s.out, o.out}) {
    auto cl = connect(a);
    ASSERT_TRUE(cl);
    shutdown_shim(*cl, pid_t(shim_pid(*cl)));
  }
}

TEST_F(ShimE2e, EventsReachContainerdThroughThePublishBinary) {
  // `ctr events` prints what containerd's event service receives.
  fs::path log = cd_.dir() / "events.log";
  pid_t watcher = ::fork();
  if (watcher == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    auto args = cd_.ctr({"events"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{watcher};
  {
    ExecPublisher publisher("/usr/bin/containerd", cd_.socket().string(), cd_.ns());
    // `ctr events` subscribes asynchronously: publish a marker until it shows up, so the
    // events under test cannot be sent before anyone listens.
    for (int i = 0; i < 50 && read_text(log).find("ks-warmup") == std::string::npos; i++) {
      ::containerd::events::TaskOOM warm;
      warm.set_container_id("ks-warmup");
      publisher.publish({"/tasks/oom", "containerd.events.TaskOOM", warm.SerializeAsString()});
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_NE(read_text(log).find("ks-warmup"), std::string::npos) << "ctr events never saw a published event: " << read_text(log);
    ::containerd::events::TaskOOM oom;
    oom.set_container_id("ks-oom-probe");
    publisher.publish({"/tasks/oom", "containerd.events.TaskOOM", oom.SerializeAsString()});
    ::containerd::events::TaskExit exit;
    exit.set_container_id("ks-exit-probe");
    exit.set_exit_status(3);
    publisher.publish({"/tasks/exit", "containerd.events.TaskExit", exit.SerializeAsString()});
  }  // the destructor sends what is queued
  std::string seen;
  for (int i = 0; i < 50; i++) {
    seen = read_text(log);
    if (seen.find("ks-exit-probe") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(seen.find("/tasks/oom"), std::string::npos) << seen;
  EXPECT_NE(seen.find("ks-oom-probe"), std::string::npos) << seen;
  EXPECT_NE(seen.find("/tasks/exit"), std::string::npos) << seen;
  EXPECT_NE(seen.find(cd_.ns()), std::string::npos) << seen;
}

size_t shim_sockets() {
  std::error_code ec;
  if (!fs::exists("/run/containerd/s", ec)) return 0;
  return size_t(std::distance(fs::directory_iterator("/run/containerd/s", ec), fs::directory_iterator()));
}

TEST_F(ShimE2e, CtrRunGoesThroughTheShimAndLeavesNothingBehind) {
  auto imported = run(cd_.ctr({"images", "import", KS_BUSYBOX_OCI}));
  ASSERT_EQ(imported.status, 0) << imported.out;
  size_t before = shim_sockets();
  auto r = run(cd_.ctr({"run", "--rm", "--runtime", KS_SHIM_BINARY, "docker.io/kata-sentry/busybox:latest", "t1", "echo", "hi"}),
               "", true, 180s);
#ifdef KS_SHIM_HAVE_SANDBOX
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "hi\n");
#else
  // Built without the Sandbox runtime, Create fails with the shim's own explanation;
  // containerd must carry it to the user and tear the shim down.
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Sandbox runtime"), std::string::npos) << r.out;
#endif
  for (int i = 0; i < 100 && !shim_processes().empty(); i++) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(shim_processes().empty()) << "shim left running";
  auto tasks = run(cd_.ctr({"tasks", "ls", "-q"}));
  EXPECT_EQ(tasks.status, 0);
  EXPECT_EQ(tasks.out, "");
  EXPECT_LE(shim_sockets(), before) << "shim socket left in /run/containerd/s";
}

#ifdef KS_SHIM_HAVE_SANDBOX
TEST_F(ShimE2e, CtrRunPropagatesTheExactExitStatus) {
  auto imported = run(cd_.ctr({"images", "import", KS_BUSYBOX_OCI}));
  ASSERT_EQ(imported.status, 0) << imported.out;
  auto r = run(cd_.ctr({"run", "--rm", "--runtime", KS_SHIM_BINARY, "docker.io/kata-sentry/busybox:latest", "t3", "sh", "-c",
                        "echo out; echo err >&2; exit 3"}),
               "", true, 180s);
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("out\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("err\n"), std::string::npos) << r.out;
  // runc is the reference: the same image and command give the same output and status.
  auto ref = run(cd_.ctr({"run", "--rm", "docker.io/kata-sentry/busybox:latest", "r3", "sh", "-c",
                          "echo out; echo err >&2; exit 3"}),
                 "", true, 60s);
  EXPECT_EQ(ref.status, r.status) << ref.out;
  auto sorted = [](const std::string& s) {  // stdout and stderr lines interleave freely
    std::vector<std::string> lines;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_TRUE(sorted(ref.out) == sorted(r.out)) << "runc: [" << ref.out << "] kata-sentry: [" << r.out << "]";
  for (int i = 0; i < 100 && !shim_processes().empty(); i++) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(shim_processes().empty()) << "shim left running";
  // The sandbox is named after the pod's first container: its QEMU and virtiofsd are gone too.
  EXPECT_TRUE(processes_with("/run/kata-sentry/sandboxes/t3/").empty()) << "VM processes left running";
}

// A detached task driven with ctr task exec / ps / kill / ls / rm, one VM throughout.
TEST_F(ShimE2e, CtrTaskExecPsKillOnADetachedTask) {
  auto imported = run(cd_.ctr({"images", "import", KS_BUSYBOX_OCI}));
  ASSERT_EQ(imported.status, 0) << imported.out;
  auto started = run(cd_.ctr({"run", "-d", "--runtime", KS_SHIM_BINARY, "docker.io/kata-sentry/busybox:latest", "t4",
                              "sleep", "1000"}),
                     "", true, 180s);
  ASSERT_EQ(started.status, 0) << started.out;
  EXPECT_EQ(cd_.task_states()["t4"], "RUNNING");

  auto ex = run(cd_.ctr({"task", "exec", "--exec-id", "e1", "t4", "sh", "-c", "echo exec-ok; exit 5"}), "", true, 60s);
  EXPECT_EQ(ex.status, 5) << ex.out;
  EXPECT_NE(ex.out.find("exec-ok"), std::string::npos) << ex.out;

  EXPECT_EQ(cd_.task_states()["t4"], "RUNNING") << "an exec's exit is not the task's";
  auto ps = run(cd_.ctr({"task", "ps", "t4"}));
  EXPECT_EQ(ps.status, 0) << ps.out;
  EXPECT_NE(ps.out.find("PID"), std::string::npos) << ps.out;

  auto metrics = run(cd_.ctr({"task", "metrics", "t4"}));
  EXPECT_EQ(metrics.status, 0) << metrics.out;
  EXPECT_NE(metrics.out.find("memory.usage_in_bytes"), std::string::npos) << metrics.out;

  auto kill = run(cd_.ctr({"task", "kill", "-s", "SIGKILL", "t4"}));
  EXPECT_EQ(kill.status, 0) << kill.out;
  std::string state;
  for (int i = 0; i < 100; i++) {
    state = cd_.task_states()["t4"];
    if (state == "STOPPED") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(state, "STOPPED");
  auto rm = run(cd_.ctr({"task", "rm", "t4"}), "", true, 60s);
  EXPECT_EQ(rm.status, 0) << rm.out;
  EXPECT_NE(rm.out.find("137"), std::string::npos) << "ctr task rm prints the exit status: " << rm.out;
  EXPECT_EQ(run(cd_.ctr({"container", "rm", "t4"})).status, 0);
  for (int i = 0; i < 100 && !shim_processes().empty(); i++) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(shim_processes().empty()) << "shim left running";
  EXPECT_TRUE(processes_with("/run/kata-sentry/sandboxes/t4/").empty()) << "VM processes left running";
  EXPECT_FALSE(fs::exists("/run/kata-sentry/sandboxes/t4"));
}

// Failure case: the shim is SIGKILLed under a running task. containerd must see the task exit,
// and the VM, its mounts and its directory must not outlive the shim.
TEST_F(ShimE2e, KillingTheShimEndsTheTaskAndLeaksNothing) {
  auto imported = run(cd_.ctr({"images", "import", KS_BUSYBOX_OCI}));
  ASSERT_EQ(imported.status, 0) << imported.out;
  auto started = run(cd_.ctr({"run", "-d", "--runtime", KS_SHIM_BINARY, "docker.io/kata-sentry/busybox:latest", "t7",
                              "sleep", "1000"}),
                     "", true, 180s);
  ASSERT_EQ(started.status, 0) << started.out;
  auto shims = shim_processes();
  ASSERT_EQ(shims.size(), 1u);
  ASSERT_FALSE(processes_with("/run/kata-sentry/sandboxes/t7/").empty()) << "no VM for t7?";
  EXPECT_EQ(cd_.task_states()["t7"], "RUNNING");
  ASSERT_EQ(::kill(shims[0], SIGKILL), 0);

  // containerd notices the dead shim and reports the task stopped (or, once cleaned up, gone).
  std::string state;
  for (int i = 0; i < 100; i++) {
    auto states = cd_.task_states();
    state = states.contains("t7") ? states["t7"] : "(gone)";
    if (state != "RUNNING") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(state == "STOPPED" || state == "(gone)") << state;
  for (int i = 0; i < 100 && fs::exists("/run/kata-sentry/sandboxes/t7"); i++) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(processes_with("/run/kata-sentry/sandboxes/t7/").empty()) << "VM processes outlived the shim";
  EXPECT_FALSE(fs::exists("/run/kata-sentry/sandboxes/t7")) << "sandbox dir left behind";
  EXPECT_EQ(read_text("/proc/self/mountinfo").find("/run/kata-sentry/sandboxes/t7"), std::string::npos) << "mounts left";
  if (auto cg = cgroup2_mount()) EXPECT_FALSE(fs::exists(*cg + "/" + sandbox_cgroup_name("t7"))) << "sandbox cgroup left";
  (void)run(cd_.ctr({"task", "rm", "-f", "t7"}));
  EXPECT_EQ(run(cd_.ctr({"container", "rm", "t7"})).status, 0);
}
#endif

}  // namespace
}  // namespace kata_sentry::shim
