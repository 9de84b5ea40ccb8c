// The host deny compiler without a kernel: what compiles into which cgroup entries, and the
// reason for everything the host cgroup programs cannot enforce.
#include "host-probes/host_deny_compiler.h"

#include <linux/bpf.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

namespace kata_sentry::probes {
namespace {

HostDenyRule rule(std::string name, std::vector<EventType> types) {
  HostDenyRule r;
  r.name = std::move(name);
  r.event_types = std::move(types);
  return r;
}

// A fake /dev: two nodes, one regular file.
Result<DeviceNode> fake_dev(const std::string& path) {
  if (path == "/dev/mem") return DeviceNode{BPF_DEVCG_DEV_CHAR, 1, 1};
  if (path == "/dev/sda") return DeviceNode{BPF_DEVCG_DEV_BLOCK, 8, 0};
  if (path == "/etc/passwd") return fail(ErrorCode::invalid_argument, "/etc/passwd is not a device node");
  return fail(ErrorCode::not_found, "stat " + path);
}

std::string refused(const CompiledHostDenySet& s) { return s.refused.empty() ? "" : s.refused[0]; }

TEST(HostDenyCompiler, InetConnectBecomesConnectAndSendHooksOfTheFamilies) {
  auto r = rule("net", {EventType::connect, EventType::sendto});
  r.socket_families = {AF_INET};
  auto s = compile_host_deny_set({r}, fake_dev);
  ASSERT_TRUE(s.refused.empty()) << refused(s);
  ASSERT_EQ(s.connect.size(), 1u);
  EXPECT_EQ(s.connect[0].hooks, (1u << KS_CG_CONNECT4) | (1u << KS_CG_SENDMSG4));
  EXPECT_EQ(s.connect[0].flags, 0u);  // any address, any port
  EXPECT_EQ(s.installed, std::vector<std::string>{"net"});
  EXPECT_TRUE(s.device.empty());
}

TEST(HostDenyCompiler, PortsAddressesAndCommsMultiply) {
  auto r = rule("dst", {EventType::connect});
  r.ports = {80, 443};
  r.ip_nets = {"10.0.0.0/8", "::1"};
  r.comms = {"qemu-system-x86"};
  r.uid = 0;
  auto s = compile_host_deny_set({r}, fake_dev);
  ASSERT_TRUE(s.refused.empty()) << refused(s);
  ASSERT_EQ(s.connect.size(), 4u);
  const auto& e = s.connect[0];
  EXPECT_EQ(e.hooks, (1u << KS_CG_CONNECT4) | (1u << KS_CG_CONNECT6));
  EXPECT_EQ(e.flags, unsigned(KS_HD_F_PORT | KS_HD_F_ADDR | KS_HD_F_COMM | KS_HD_F_UID));
  EXPECT_EQ(e.port, 80);
  EXPECT_EQ(e.prefix_len, 96 + 8);  // IPv4 as v4-mapped
  EXPECT_EQ(e.addr[10], 0xff);
  EXPECT_EQ(e.addr[12], 10);
  EXPECT_STREQ(e.comm, "qemu-system-x86");
  EXPECT_EQ(s.connect[1].prefix_len, 128);
  EXPECT_EQ(s.connect[1].addr[15], 1);
  EXPECT_EQ(s.connect[2].port, 443);
}

TEST(HostDenyCompiler, DeviceOpenAndMknodResolveNodesToNumbers) {
  auto r = rule("dev", {EventType::openat, EventType::mknodat});
  r.exact_paths = {"/dev/mem", "/dev/sda"};
  auto s = compile_host_deny_set({r}, fake_dev);
  ASSERT_TRUE(s.refused.empty()) << refused(s);
  ASSERT_EQ(s.device.size(), 2u);
  EXPECT_EQ(s.device[0].hooks, unsigned(BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD));
  EXPECT_EQ(s.device[0].dev_type, unsigned(BPF_DEVCG_DEV_CHAR));
  EXPECT_EQ(s.device[0].major, 1u);
  EXPECT_EQ(s.device[0].minor, 1u);
  EXPECT_EQ(s.device[1].dev_type, unsigned(BPF_DEVCG_DEV_BLOCK));
  EXPECT_EQ(s.device[1].major, 8u);
}

TEST(HostDenyCompiler, RefusesWhatCgroupProgramsCannotSee) {
  struct Case {
    HostDenyRule r;
    std::string why;
  };
  std::vector<Case> cases;
  cases.push_back({rule("exec", {EventType::execve}), "no host cgroup hook enforces evt.type execve"});
  {
    auto r = rule("file", {EventType::openat});
    r.exact_paths = {"/etc/passwd"};
    cases.push_back({r, "/etc/passwd is not a device node"});
  }
  {
    auto r = rule("any-open", {EventType::openat});
    r.comms = {"qemu"};
    cases.push_back({r, "must name them"});
  }
  {
    auto r = rule("prefix", {EventType::openat});
    r.path_prefixes = {"/dev/"};
    cases.push_back({r, "not paths"});
  }
  {
    auto r = rule("exe", {EventType::connect});
    r.binaries = {"/usr/bin/qemu"};
    cases.push_back({r, "proc.exepath"});
  }
  {
    auto r = rule("ctr", {EventType::connect});
    r.any_container = true;
    cases.push_back({r, "guest notion"});
  }
  {
    auto r = rule("unix", {EventType::connect});
    r.socket_families = {AF_UNIX};
    cases.push_back({r, "only INET sockets"});
  }
  {
    auto r = rule("badnet", {EventType::connect});
    r.ip_nets = {"10.0.0.0/40"};
    cases.push_back({r, "at most 32 bits"});
  }
  {
    auto r = rule("mixed", {EventType::connect});
    r.exact_paths = {"/dev/mem"};
    cases.push_back({r, "carries no path"});
  }
  {
    auto r = rule("longcomm", {EventType::connect});
    r.comms = {"qemu-system-x86_64"};
    cases.push_back({r, "longer than 15 bytes"});
  }
  for (const auto& c : cases) {
    auto s = compile_host_deny_set({c.r}, fake_dev);
    ASSERT_EQ(s.refused.size(), 1u) << c.r.name;
    EXPECT_EQ(s.refused[0].rfind(c.r.name + ": ", 0), 0u) << s.refused[0];
    EXPECT_NE(s.refused[0].find(c.why), std::string::npos) << s.refused[0];
    EXPECT_TRUE(s.installed.empty());
    EXPECT_TRUE(s.connect.empty() && s.device.empty()) << c.r.name << ": refused rules leave no entries";
  }
}

TEST(HostDenyCompiler, RuleIdsIndexTheInputAndCapacityIsChecked) {
  auto bad = rule("bad", {EventType::execve});
  auto good = rule("good", {EventType::connect});
  auto s = compile_host_deny_set({bad, good}, fake_dev);
  ASSERT_EQ(s.connect.size(), 1u);
  EXPECT_EQ(s.connect[0].rule_id, 1u);
  auto big = rule("big", {EventType::connect});
  for (int p = 1; p <= KS_HOST_DENY_MAX + 1; ++p) big.ports.push_back(uint16_t(p));
  s = compile_host_deny_set({big}, fake_dev);
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_NE(s.refused[0].find("kernel entries"), std::string::npos) << s.refused[0];
}

// /dev/mem and friends have kernel-fixed numbers: a host without the node still gets the rule.
TEST(HostDenyCompiler, FixedNumberNodesResolveWithoutTheNode) {
  auto mem = stat_device_node("/dev/mem");
  ASSERT_TRUE(mem) << mem.error().describe();
  EXPECT_EQ(mem->type, unsigned(BPF_DEVCG_DEV_CHAR));
  EXPECT_EQ(mem->major, 1u);
  EXPECT_EQ(mem->minor, 1u);
  EXPECT_EQ(stat_device_node("/dev/port")->minor, 4u);
  EXPECT_FALSE(stat_device_node("/dev/ks-no-such-node"));
  auto null = stat_device_node("/dev/null");
  ASSERT_TRUE(null);
  EXPECT_EQ(null->minor, 3u);
}

TEST(HostDenyCompiler, ParsesAddressesAndNets) {
  auto v4 = parse_ip_net("127.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->second, 128);
  EXPECT_EQ(v4->first[12], 127);
  auto v6 = parse_ip_net("fe80::/10");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->second, 10);
  EXPECT_EQ(v6->first[0], 0xfe);
  EXPECT_FALSE(parse_ip_net("nope"));
  EXPECT_FALSE(parse_ip_net("1.2.3.4/"));
}

}  // namespace
}  // namespace kata_sentry::probes
