// bpf tier (root, no VM): SandboxMonitor with the real host probes and host deny programs on
// a scratch cgroup standing in for a sandbox's. Enforce mode attaches the default rules' host
// deny set, a connect from the cgroup fails with EPERM, and the refusal is audited and the
// alert enforced; monitor mode attaches nothing; stopping the monitor detaches everything.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "monitor/rules_path.h"
#include "monitor/host_probe_hub.h"
#include "monitor/sandbox_monitor.h"

namespace kata_sentry::monitor {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRule = "Sandbox VMM INET connect denied";

uint32_t attached(const std::string& cgroup, bpf_attach_type type) {
  int fd = ::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ~0u;
  uint32_t ids[8] = {}, count = 8, flags = 0;
  int rc = bpf_prog_query(fd, type, 0, &flags, ids, &count);
  ::close(fd);
  return rc == 0 ? count : ~0u;
}

struct Seen {
  std::mutex mu;
  std::vector<policy::Alert> alerts;
  std::vector<AuditRecord> audits;
};

class MonitorHostDeny : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (BPF programs, cgroup directories)";
    auto cg = CgroupDir::create("ks-test-monitor-deny-" + std::to_string(::getpid()));
    ASSERT_TRUE(cg) << cg.error().describe();
    cgroup_ = std::move(*cg);
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr_;
    ASSERT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_), 0);
    ASSERT_EQ(::listen(lfd_, 8), 0);
    ASSERT_EQ(::getsockname(lfd_, reinterpret_cast<sockaddr*>(&addr_), &len), 0);
  }
  void TearDown() override {
    if (lfd_ >= 0) ::close(lfd_);
  }

  std::unique_ptr<SandboxMonitor> start(policy::Mode mode) {
    auto dir = default_rules_dir();
    EXPECT_TRUE(dir);
    auto engine = load_engine({*dir}, mode);
    EXPECT_TRUE(engine) << engine.error().describe();
    MonitorOptions o;
    o.sandbox_id = "sb-monitor-bpf";
    o.sandbox_name = "t";
    o.host_cgroups = {cgroup_->path()};
    o.guest_stream = false;
    o.on_alert = [this](const policy::Alert& a) {
      std::lock_guard l(seen_.mu);
      seen_.alerts.push_back(a);
    };
    o.on_audit = [this](const AuditRecord& r) {
      std::lock_guard l(seen_.mu);
      seen_.audits.push_back(r);
    };
    auto m = SandboxMonitor::start(std::move(*engine), o, SandboxHooks{}, nullptr);
    EXPECT_TRUE(m) << m.error().describe();
    if (!m) return nullptr;
    // The host view: the node's probe set, scoped to the sandbox's cgroup, feeds the monitor.
    auto hub = HostProbeHub::open();
    EXPECT_TRUE(hub) << hub.error().describe();
    if (!hub) return nullptr;
    hub_ = std::move(*hub);
    SandboxMonitor* sink = m->get();
    auto attached = hub_->attach("sb-monitor-bpf", {}, {cgroup_->path()}, [sink](Event&& ev) { sink->feed_host(std::move(ev)); });
    EXPECT_TRUE(attached) << attached.error().describe();
    return std::move(*m);
  }
  // Before the monitor goes: no record reaches it afterwards.
  void stop(SandboxMonitor& m) {
    if (hub_) hub_->detach("sb-monitor-bpf");
    m.stop();
  }

  // errno of a connect to the listener from a child in the cgroup (0: connected).
  int connect_from_cgroup() {
    int go[2];
    if (::pipe(go) != 0) return -1;
    pid_t child = ::fork();
    if (child == 0) {
      char c;
      ::close(go[1]);
      if (::read(go[0], &c, 1) != 1) _exit(200);
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      _exit(::connect(s, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) == 0 ? 0 : errno);
    }
    ::close(go[0]);
    child_ = child;
    EXPECT_TRUE(cgroup2_add(cgroup_->path(), child));
    EXPECT_EQ(::write(go[1], "g", 1), 1);
    ::close(go[1]);
    int st = 0;
    ::waitpid(child, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

  bool wait_for(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard l(seen_.mu);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    std::lock_guard l(seen_.mu);
    return pred();
  }

  std::string dump() {
    std::lock_guard l(seen_.mu);
    std::string s;
    for (const auto& r : seen_.audits) s += "audit: " + r.rule + (r.ok ? " ok: " : " FAILED: ") + r.detail + "\n";
    for (const auto& a : seen_.alerts) s += "alert: " + a.rule + (a.enforced ? " enforced\n" : "\n");
    return s;
  }

  std::unique_ptr<CgroupDir> cgroup_;
  std::unique_ptr<HostProbeHub> hub_;
  int lfd_ = -1;
  sockaddr_in addr_{};
  pid_t child_ = 0;
  Seen seen_;
};

TEST_F(MonitorHostDeny, EnforceModeRefusesAuditsAndDetachesOnStop) {
  auto m = start(policy::Mode::enforce);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->stats().actions.host_deny_attached);
  EXPECT_EQ(attached(cgroup_->path(), BPF_CGROUP_INET4_CONNECT), 1u);
  EXPECT_EQ(attached(cgroup_->path(), BPF_CGROUP_DEVICE), 1u);
  EXPECT_EQ(connect_from_cgroup(), EPERM);
  const std::string pid = std::to_string(child_);
  EXPECT_TRUE(wait_for([&] {
    bool refusal = false, alert = false;
    for (const auto& r : seen_.audits)
      refusal |= r.ok && r.rule == kRule && r.detail.find("host cgroup/connect4 (EPERM)") != std::string::npos &&
                 r.detail.find("host pid " + pid) != std::string::npos;
    for (const auto& a : seen_.alerts)
      alert |= a.rule == kRule && a.enforced && !a.events.empty() && a.events.back().proc.pid == uint32_t(child_);
    return refusal && alert;
  })) << dump();
  EXPECT_EQ(m->stats().actions.host_refusals, 1u);
  stop(*m);
  m.reset();
  EXPECT_EQ(attached(cgroup_->path(), BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(attached(cgroup_->path(), BPF_CGROUP_DEVICE), 0u);
  EXPECT_EQ(connect_from_cgroup(), 0);
}

TEST_F(MonitorHostDeny, MonitorModeInstallsNothingAndReportsNotEnforced) {
  auto m = start(policy::Mode::monitor);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->stats().actions.host_deny_attached);
  EXPECT_EQ(attached(cgroup_->path(), BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(connect_from_cgroup(), 0);
  EXPECT_TRUE(wait_for([&] {
    for (const auto& a : seen_.alerts)
      if (a.rule == kRule && a.events.back().proc.pid == uint32_t(child_)) return !a.enforced;
    return false;
  })) << dump();
  stop(*m);
  std::lock_guard l(seen_.mu);
  EXPECT_TRUE(seen_.audits.empty()) << "monitor mode acts on nothing";
}

}  // namespace
}  // namespace kata_sentry::monitor
