// Spec → launch plan translation (no root): mount options, capability masks, validation.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>

#include <filesystem>

#include "agent/container/device_filter.h"
#include "agent/container/launch_plan.h"
#include "agent/container/seccomp_program.h"

namespace kata_sentry::agent {
namespace {

TEST(MountOptions, BindFlagsBecomeARemount) {
  MountPlan m;
  m.fstype = "bind";
  parse_mount_options({"rbind", "ro", "nosuid", "rprivate"}, m);
  EXPECT_TRUE(m.bind);
  EXPECT_EQ(m.fstype, "");
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(m.remount_flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(m.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
}

TEST(MountOptions, UnknownOptionsAreFilesystemData) {
  MountPlan m;
  m.fstype = "tmpfs";
  parse_mount_options({"nosuid", "strictatime", "mode=755", "size=65536k", "rw"}, m);
  EXPECT_FALSE(m.bind);
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(m.data, "mode=755,size=65536k");
}

TEST(ProcessPlan, BuildsArgvEnvAndPath) {
  OciProcess p;
  p.args = {"sh", "-c", "x"};
  p.env = {"A=1", "PATH=/x:/y"};
  p.capabilities = OciCapabilities{{"CAP_KILL", "CAP_CHOWN"}, {"CAP_KILL"}, {"CAP_KILL"}, {}, {}};
  p.rlimits = {{"RLIMIT_NOFILE", 10, 5}};
  auto plan = plan_process(p, std::nullopt);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->argv.size(), 4u);
  EXPECT_STREQ(plan->argv[2], "x");
  EXPECT_EQ(plan->argv[3], nullptr);
  EXPECT_EQ(plan->envp.size(), 3u);
  EXPECT_EQ(plan->path_dirs, (std::vector<std::string>{"/x", "/y"}));
  EXPECT_EQ(plan->caps.bounding, (1u << 5) | 1u);
  EXPECT_EQ(plan->caps.effective, 1u << 5);
  ASSERT_EQ(plan->rlimits.size(), 1u);
  EXPECT_EQ(plan->rlimits[0].limit.rlim_cur, 5u);
  EXPECT_TRUE(plan->seccomp.empty());
}

TEST(ProcessPlan, NoCapabilitiesObjectDropsAll) {
  OciProcess p;
  p.args = {"true"};
  auto plan = plan_process(p, std::nullopt);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->caps.bounding, 0u);
  EXPECT_EQ(plan->caps.effective, 0u);
}

TEST(InitPlan, ValidatesBeforeAnythingRuns) {
  OciSpec s = default_oci_spec({"true"}, false);
  auto bad_id = plan_init(s, "a/b", "/tmp");
  ASSERT_FALSE(bad_id);
  EXPECT_NE(bad_id.error().message.find("container id"), std::string::npos);

  std::erase_if(s.linux.namespaces, [](const OciNamespace& n) { return n.type == "mount"; });
  auto no_mnt = plan_init(s, "c", "/tmp");
  ASSERT_FALSE(no_mnt);
  EXPECT_NE(no_mnt.error().message.find("new mount namespace is required"), std::string::npos);

  s = default_oci_spec({"true"}, false);
  s.mounts.push_back({"/../../etc", "tmpfs", "tmpfs", {}});
  auto escape = plan_init(s, "c", "/tmp");  // "/tmp/rootfs" does not exist either: root.path first
  ASSERT_FALSE(escape);

  s = default_oci_spec({"true"}, false);
  s.root.path = "/";
  s.mounts.push_back({"/x/../../etc", "tmpfs", "tmpfs", {}});
  auto dots = plan_init(s, "c", "/tmp");  // ".." cannot climb above the container's root
  ASSERT_TRUE(dots) << dots.error().message;
  EXPECT_EQ(dots->mounts.back().destination, "/etc");

  s = default_oci_spec({"true"}, false);
  s.root.path = "/";
  s.linux.namespaces.push_back({"user", ""});
  auto no_maps = plan_init(s, "c", "/tmp");
  ASSERT_FALSE(no_maps);
  EXPECT_NE(no_maps.error().message.find("uidMappings"), std::string::npos);
}

TEST(Seccomp, CompilesAndCaches) {
  OciSeccomp sc;
  sc.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
  sc.syscalls.push_back({{"mkdir", "no_such_syscall_name"}, "SCMP_ACT_ERRNO", std::nullopt, {}});
  auto a = compile_seccomp(sc);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_GT(a->size(), 4u);
  auto b = compile_seccomp(sc);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->size(), b->size());

  sc.architectures = {"SCMP_ARCH_VAX"};
  auto bad = compile_seccomp(sc);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("linux.seccomp.architectures[0]: unknown architecture"), std::string::npos);
}

TEST(DeviceFilter, OneBlockPerRuleAndADefaultDeny) {
  auto empty = build_device_filter({});
  ASSERT_EQ(empty.size(), 8u);  // 6 prologue + "r0 = 0; exit"
  EXPECT_EQ(empty.back().code, BPF_JMP | BPF_EXIT);
  auto prog = build_device_filter({{false, "a", std::nullopt, std::nullopt, "rwm"},
                                   {true, "c", 1, 3, "rwm"}});
  // prologue 6 + allow c 1:3 (type jump, mov, and, jne, major, minor, mov, exit = 8)
  //            + deny a (mov, and, jeq, mov, exit = 5) + default 2
  ASSERT_EQ(prog.size(), 21u);
  EXPECT_EQ(prog[6].code, BPF_JMP | BPF_JNE | BPF_K);  // type check of the last rule first
  EXPECT_EQ(prog[6].off, 7);                           // skips the rest of its block
  EXPECT_EQ(prog[12].imm, 1);                          // allow verdict
}

}  // namespace
}  // namespace kata_sentry::agent
