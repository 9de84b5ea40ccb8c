// bpf tier (root, no VM): the host deny cgroup programs on a scratch cgroup v2 directory.
// A forked child joins the cgroup and makes real syscalls: a denied connect or device access
// fails with EPERM and is reported, everything else goes through, the set changes live, and
// detaching leaves no program on the cgroup. Only the scratch cgroup is affected, so other
// sessions on the machine are not.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/cgroup2.h"
#include "core/event_decode.h"
#include "host-probes/host_deny.h"
#include "kata_sentry/event_abi.h"

namespace kata_sentry::probes {
namespace {

using namespace std::chrono_literals;

std::string missing_capability() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return "capget failed";
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
  if (!has(CAP_SYS_ADMIN)) return "needs CAP_SYS_ADMIN (cgroup programs, cgroup directories)";
  if (!cgroup2_mount()) return "no cgroup2 mount";
  return "";
}

// A listening TCP socket on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
};

// 0 when the operation succeeded, else its errno.
int connect_errno(uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int rc = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  ::close(s);
  return rc;
}

int open_errno(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// Runs `body` in a child that has joined `cgroup` first; returns the child's exit code
// (body's return value, 100+ for set-up failures).
int run_in_cgroup(const std::string& cgroup, const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!cgroup2_add(cgroup, 0)) _exit(100);
    _exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// Refusal records from the ring buffer (waits up to 2 s for at least `want`).
std::vector<Event> refusals(HostDeny& deny, size_t want) {
  BootClock clock;
  std::vector<Event> out;
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto n = deny.poll(100, [&](std::span<const uint8_t> record) {
      auto e = decode_event(record, View::host, clock);
      EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().describe());
      if (e) out.push_back(std::move(*e));
    });
    EXPECT_TRUE(n.has_value());
  }
  return out;
}

uint32_t attached_count(const std::string& cgroup, bpf_attach_type type) {
  int fd = ::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ~0u;
  uint32_t ids[8] = {}, count = 8, flags = 0;
  int rc = bpf_prog_query(fd, type, 0, &flags, ids, &count);
  ::close(fd);
  return rc == 0 ? count : ~0u;
}

class HostDenyBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = missing_capability(); !why.empty()) GTEST_SKIP() << why;
    auto cg = CgroupDir::create("ks-test-host-deny-" + std::to_string(::getpid()));
    ASSERT_TRUE(cg) << cg.error().describe();
    cgroup_ = std::move(*cg);
  }
  std::unique_ptr<CgroupDir> cgroup_;
};

TEST_F(HostDenyBpf, ConnectAndDeviceAreRefusedLiveAndDetachLeavesNothing) {
  Listener denied_port, open_port;
  ASSERT_NE(denied_port.port, 0);
  ASSERT_NE(open_port.port, 0);
  auto deny = HostDeny::open({cgroup_->path()});
  ASSERT_TRUE(deny) << deny.error().describe();

  HostDenyRule net;
  net.name = "net";
  net.event_types = {EventType::connect};
  net.ports = {denied_port.port};
  net.ip_nets = {"127.0.0.0/8"};
  HostDenyRule dev;
  dev.name = "dev";
  dev.event_types = {EventType::openat, EventType::mknodat};
  dev.exact_paths = {"/dev/full"};  // char 1:7, resolved by stat
  auto set = compile_host_deny_set({net, dev});
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_TRUE((*deny)->set(set));

  const std::string node = "/dev/ks-test-full-" + std::to_string(::getpid());
  int rc = run_in_cgroup(cgroup_->path(), [&] {
    if (connect_errno(denied_port.port) != EPERM) return 1;
    if (connect_errno(open_port.port) != 0) return 2;
    if (open_errno("/dev/full") != EPERM) return 3;
    if (open_errno("/dev/null") != 0) return 4;
    // mknod of the same number is refused too (the rule names the device, not the path).
    if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 7)) == 0) {
      ::unlink(node.c_str());
      return 5;
    }
    return errno == EPERM ? 0 : 6;
  });
  EXPECT_EQ(rc, 0) << "1: denied connect went through, 2: allowed connect failed, 3: /dev/full opened, "
                      "4: /dev/null refused, 5/6: mknod not refused with EPERM";
  // This process is outside the cgroup: untouched.
  EXPECT_EQ(connect_errno(denied_port.port), 0);
  EXPECT_EQ(open_errno("/dev/full"), 0);

  auto got = refusals(**deny, 3);
  ASSERT_EQ(got.size(), 3u);
  const Event& c = got[0];
  EXPECT_EQ(c.type, EventType::cgroup_connect);
  EXPECT_TRUE(c.flags & KS_F_DENIED);
  EXPECT_EQ(c.res, -EPERM);
  EXPECT_EQ(c.addr.ip, "127.0.0.1");
  EXPECT_EQ(c.addr.port, denied_port.port);
  EXPECT_EQ(c.arg.at(0), uint64_t(KS_CG_CONNECT4));
  EXPECT_EQ(c.arg.at(3), 0u);  // rule "net"
  EXPECT_EQ(c.proc.cgroup_id, *cgroup2_id(cgroup_->path()));
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(got[i].type, EventType::cgroup_device);
    EXPECT_EQ(got[i].arg.at(1), 1u);
    EXPECT_EQ(got[i].arg.at(2), 7u);
    EXPECT_EQ(got[i].arg.at(3), 1u);  // rule "dev"
  }
  EXPECT_EQ(got[1].arg.at(0) >> 16, uint64_t(BPF_DEVCG_ACC_READ));
  EXPECT_EQ(got[2].arg.at(0) >> 16, uint64_t(BPF_DEVCG_ACC_MKNOD));
  auto st = (*deny)->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->denied, 3u);
  EXPECT_EQ(st->ringbuf_drops, 0u);

  // Live update: an empty set lets everything through at once, no re-attach.
  ASSERT_TRUE((*deny)->set(CompiledHostDenySet{}));
  rc = run_in_cgroup(cgroup_->path(), [&] {
    if (connect_errno(denied_port.port) != 0) return 1;
    if (open_errno("/dev/full") != 0) return 2;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  // ... and back: only the connect rule this time.
  ASSERT_TRUE((*deny)->set(compile_host_deny_set({net})));
  rc = run_in_cgroup(cgroup_->path(), [&] {
    if (connect_errno(denied_port.port) != EPERM) return 1;
    if (open_errno("/dev/full") != 0) return 2;
    return 0;
  });
  EXPECT_EQ(rc, 0);

  for (auto t : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG, BPF_CGROUP_UDP6_SENDMSG,
                 BPF_CGROUP_DEVICE})
    EXPECT_EQ(attached_count(cgroup_->path(), t), 1u) << "attach type " << t;
  deny->reset();
  for (auto t : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG, BPF_CGROUP_UDP6_SENDMSG,
                 BPF_CGROUP_DEVICE})
    EXPECT_EQ(attached_count(cgroup_->path(), t), 0u) << "attach type " << t << " left behind";
  rc = run_in_cgroup(cgroup_->path(), [&] { return connect_errno(denied_port.port); });
  EXPECT_EQ(rc, 0) << "still refused after detach";
}

// UDP without connect reaches sendmsg4, not connect4: a sendto rule covers it.
TEST_F(HostDenyBpf, UnconnectedUdpSendIsRefusedBySendtoRule) {
  auto deny = HostDeny::open({cgroup_->path()});
  ASSERT_TRUE(deny) << deny.error().describe();
  HostDenyRule udp;
  udp.name = "udp";
  udp.event_types = {EventType::sendto};
  udp.ports = {9};
  ASSERT_TRUE((*deny)->set(compile_host_deny_set({udp})));
  int rc = run_in_cgroup(cgroup_->path(), [] {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(9);
    int r = ::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ? errno : 0;
    a.sin_port = htons(10);
    int ok = ::sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ? errno : 0;
    ::close(s);
    return r == EPERM && ok == 0 ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
  auto got = refusals(**deny, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].arg.at(0), uint64_t(KS_CG_SENDMSG4));
  EXPECT_EQ(got[0].arg.at(1), uint64_t(SOCK_DGRAM));
}

// Capability detection: a directory that is not cgroup v2 cannot take the programs, and
// open() says which program and why instead of pretending.
TEST_F(HostDenyBpf, OpenOnANonCgroupDirectoryFailsNamingTheProgram) {
  auto deny = HostDeny::open({"/tmp"});
  ASSERT_FALSE(deny);
  EXPECT_NE(deny.error().message.find("attach host_deny cgroup/connect4 to /tmp"), std::string::npos)
      << deny.error().describe();
}

}  // namespace
}  // namespace kata_sentry::probes
