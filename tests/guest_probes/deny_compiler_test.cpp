#include "guest-probes/deny_compiler.h"

#include <cstring>

#include <gtest/gtest.h>

namespace kata_sentry::guest_probes {
namespace {

DenyRule open_rule(std::string name) {
  DenyRule r;
  r.name = std::move(name);
  r.event_types = {EventType::openat};
  return r;
}

TEST(DenyCompiler, ExactPathBecomesOneFileOpenEntry) {
  auto r = open_rule("core_pattern");
  r.exact_paths = {"/proc/sys/kernel/core_pattern"};
  auto set = compile_deny_set({r}, {});
  ASSERT_TRUE(set.refused.empty());
  ASSERT_EQ(set.entries.size(), 1u);
  const auto& e = set.entries[0];
  EXPECT_EQ(e.type_mask, 1ULL << KS_EVT_LSM_FILE_OPEN);
  EXPECT_EQ(e.flags, uint32_t(KS_DENY_F_PATH_EXACT));
  EXPECT_EQ(std::string(e.path, e.path_len), "/proc/sys/kernel/core_pattern");
  EXPECT_EQ(set.installed, 1u);
}

TEST(DenyCompiler, ListsExpandToTheirProduct) {
  auto r = open_rule("p");
  r.exact_paths = {"/a", "/b"};
  r.path_prefixes = {"/c/"};
  r.comms = {"sh", "cat"};
  r.uid = 0;
  auto set = compile_deny_set({r}, {});
  ASSERT_EQ(set.entries.size(), 6u);
  for (const auto& e : set.entries) EXPECT_TRUE(e.flags & KS_DENY_F_UID);
  EXPECT_EQ(set.entries[4].flags & KS_DENY_F_PATH_PREFIX, uint32_t(KS_DENY_F_PATH_PREFIX));
}

TEST(DenyCompiler, ContainersResolveToCgroupsAndAnyContainerToTheParent) {
  auto named = open_rule("named");
  named.container_ids = {"c1", "not-running"};
  auto any = open_rule("any");
  any.any_container = true;
  ContainerCgroups cg{100, {{"c1", 7}}};
  auto set = compile_deny_set({named, any}, cg);
  ASSERT_TRUE(set.refused.empty());
  ASSERT_EQ(set.entries.size(), 2u);
  EXPECT_EQ(set.entries[0].cgroup_id, 7u);
  EXPECT_EQ(set.entries[1].cgroup_id, 100u);
  EXPECT_EQ(set.entries[1].rule_id, 1u);
  EXPECT_EQ(set.installed, 2u);
}

TEST(DenyCompiler, InexpressibleRulesAreRefusedWholeWithAReason) {
  DenyRule unlink{.name = "unlink", .event_types = {EventType::unlinkat}};
  DenyRule mixed{.name = "mixed", .event_types = {EventType::openat, EventType::chmod}};
  DenyRule connect_path{.name = "cpath", .event_types = {EventType::connect}, .exact_paths = {"/x"}};
  DenyRule exe = open_rule("exe");
  exe.binaries = {"/bin/sh"};
  DenyRule long_comm = open_rule("comm");
  long_comm.comms = {"a-very-long-process-name"};
  auto set = compile_deny_set({unlink, mixed, connect_path, exe, long_comm}, {});
  EXPECT_TRUE(set.entries.empty());
  ASSERT_EQ(set.refused.size(), 5u);
  EXPECT_EQ(set.refused[0].rfind("unlink: ", 0), 0u);
  EXPECT_NE(set.refused[1].find("chmod"), std::string::npos);
  EXPECT_EQ(set.installed, 0u);
}

TEST(DenyCompiler, CapacityIsEnforcedPerRule) {
  auto r = open_rule("big");
  for (int i = 0; i < KS_DENY_MAX_RULES + 1; ++i) r.exact_paths.push_back("/f" + std::to_string(i));
  auto ok = open_rule("small");
  auto set = compile_deny_set({r, ok}, {});
  ASSERT_EQ(set.refused.size(), 1u);
  EXPECT_NE(set.refused[0].find("kernel entries"), std::string::npos);
  EXPECT_EQ(set.entries.size(), 1u);
}

TEST(DenyCompiler, SyscallAndLsmTypesMapToTheirHooks) {
  EXPECT_EQ(lsm_type_mask(EventType::execve), 1ULL << KS_EVT_LSM_BPRM_CHECK);
  EXPECT_EQ(lsm_type_mask(EventType::finit_module), 1ULL << KS_EVT_LSM_KERNEL_READ_FILE);
  EXPECT_EQ(lsm_type_mask(EventType::mount), 1ULL << KS_EVT_LSM_SB_MOUNT);
  EXPECT_EQ(lsm_type_mask(EventType::connect), 1ULL << KS_EVT_LSM_SOCKET_CONNECT);
  EXPECT_EQ(lsm_type_mask(EventType::init_module), 0u);
  EXPECT_EQ(lsm_type_mask(EventType::unshare), 0u);
}

}  // namespace
}  // namespace kata_sentry::guest_probes
