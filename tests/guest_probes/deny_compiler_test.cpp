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
  EXPECT_EQ(e.type, KS_EVT_LSM_FILE_OPEN);
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
  DenyRule unlink{.name = "unlink", .event_types = {EventType::unlinkat}};  // no hook
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
  EXPECT_EQ(hook_for(EventType::execve)->hook, EventType::lsm_bprm_check);
  EXPECT_EQ(hook_for(EventType::mount)->hook, EventType::lsm_sb_mount);
  EXPECT_EQ(hook_for(EventType::connect)->hook, EventType::lsm_socket_connect);
  // Syscalls that share a hook are told apart by the syscall the hook runs in.
  EXPECT_EQ(hook_for(EventType::finit_module)->hook, EventType::lsm_kernel_read_file);
  EXPECT_EQ(hook_for(EventType::finit_module)->syscall, 313);
  EXPECT_EQ(hook_for(EventType::init_module)->hook, EventType::lsm_kernel_load_data);
  EXPECT_EQ(hook_for(EventType::init_module)->syscall, 175);
  EXPECT_EQ(hook_for(EventType::open_by_handle_at)->syscall, 304);
  EXPECT_FALSE(hook_for(EventType::lsm_file_open)->syscall);
  EXPECT_STREQ(hook_for(EventType::io_uring_setup)->exact_path, "anon_inode:[io_uring]");
  EXPECT_EQ(hook_for(EventType::unshare)->hook, EventType::lsm_userns_create);
  EXPECT_FALSE(hook_for(EventType::setns));
  EXPECT_FALSE(hook_for(EventType::chmod));
}

TEST(DenyCompiler, SyscallsAtASharedHookCarryTheirSyscallAndImplicitName) {
  DenyRule handles{.name = "handles", .event_types = {EventType::open_by_handle_at}};
  DenyRule ring{.name = "ring", .event_types = {EventType::io_uring_setup}};
  auto set = compile_deny_set({handles, ring}, {});
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_EQ(set.entries.size(), 2u);
  // Sorted by hook: file_open (50) before anon_inode (97).
  EXPECT_EQ(set.entries[0].type, KS_EVT_LSM_FILE_OPEN);
  EXPECT_EQ(set.entries[0].flags, uint32_t(KS_DENY_F_SYSCALL));
  EXPECT_EQ(set.entries[0].syscall, 304);
  EXPECT_EQ(set.entries[1].type, KS_EVT_LSM_ANON_INODE);
  EXPECT_EQ(std::string(set.entries[1].path, set.entries[1].path_len), "anon_inode:[io_uring]");
  EXPECT_EQ(set.ranges[KS_EVT_LSM_FILE_OPEN].start, 0u);
  EXPECT_EQ(set.ranges[KS_EVT_LSM_FILE_OPEN].count, 1u);
  EXPECT_EQ(set.ranges[KS_EVT_LSM_ANON_INODE].start, 1u);
  EXPECT_EQ(set.ranges[KS_EVT_LSM_ANON_INODE].count, 1u);
  EXPECT_EQ(set.ranges[KS_EVT_LSM_BPF].count, 0u);
  // Near miss: a syscall number that contradicts the type is refused.
  DenyRule odd{.name = "odd", .event_types = {EventType::open_by_handle_at}};
  odd.syscall = 2;
  EXPECT_EQ(compile_deny_set({odd}, {}).refused.size(), 1u);
}

TEST(DenyCompiler, DevicesByNumberNeedTheirKindAndExpandPerMinor) {
  DenyRule mem{.name = "mem", .event_types = {EventType::openat, EventType::mknodat}};
  mem.device_kind = 'c';
  mem.rdev_major = 1;
  mem.rdev_minors = {1, 2, 4};
  auto set = compile_deny_set({mem}, {});
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_EQ(set.entries.size(), 6u);  // two hooks x three minors
  for (const auto& e : set.entries) {
    EXPECT_EQ(e.flags, uint32_t(KS_DENY_F_DEVICE_KIND | KS_DENY_F_RDEV_MAJOR | KS_DENY_F_RDEV_MINOR));
    EXPECT_EQ(e.device_kind, 'c');
    EXPECT_EQ(e.rdev_major, 1u);
  }
  EXPECT_EQ(set.entries[2].rdev_minor, 4u);
  DenyRule kindless = mem;
  kindless.device_kind = 0;
  auto refused = compile_deny_set({kindless}, {});
  ASSERT_EQ(refused.refused.size(), 1u);
  EXPECT_NE(refused.refused[0].find("fd.is_char_device"), std::string::npos);
  DenyRule on_bpf{.name = "bpfdev", .event_types = {EventType::bpf}, .device_kind = 'b'};
  EXPECT_EQ(compile_deny_set({on_bpf}, {}).refused.size(), 1u);
}

TEST(DenyCompiler, ArgumentsAreLookedUpInTheHooksRecord) {
  DenyRule vsock{.name = "vsock", .event_types = {EventType::socket, EventType::lsm_socket_create}};
  vsock.arg = DenyRule::Arg{"domain", 40, false};
  auto set = compile_deny_set({vsock}, {});
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_EQ(set.entries.size(), 1u);  // one hook for both types
  EXPECT_EQ(set.entries[0].flags, uint32_t(KS_DENY_F_ARG_EQ));
  EXPECT_EQ(set.entries[0].arg_index, 0u);
  EXPECT_EQ(set.entries[0].arg_value, 40u);
  DenyRule attach{.name = "attach", .event_types = {EventType::lsm_ptrace_access}};
  attach.arg = DenyRule::Arg{"mode", 2, true};
  set = compile_deny_set({attach}, {});
  ASSERT_EQ(set.entries.size(), 1u);
  EXPECT_EQ(set.entries[0].flags, uint32_t(KS_DENY_F_ARG_ANY_BIT));
  EXPECT_EQ(set.entries[0].arg_index, 0u);
  DenyRule nosuch{.name = "nosuch", .event_types = {EventType::bpf}};
  nosuch.arg = DenyRule::Arg{"domain", 40, false};
  auto refused = compile_deny_set({nosuch}, {});
  ASSERT_EQ(refused.refused.size(), 1u);
  EXPECT_NE(refused.refused[0].find("evt.arg.domain is not in the lsm_bpf record"), std::string::npos) << refused.refused[0];
}

TEST(DenyCompiler, ExecPrefixesFstypesAndUnlinkedBelongToTheirHooks) {
  DenyRule shm{.name = "shm", .event_types = {EventType::execve, EventType::lsm_bprm_check}};
  shm.exe_prefixes = {"/dev/shm/", "/memfd:"};
  DenyRule deleted{.name = "deleted", .event_types = {EventType::execve}, .unlinked = true};
  DenyRule debugfs{.name = "debugfs", .event_types = {EventType::mount}, .fstypes = {"debugfs", "cgroup"}};
  auto set = compile_deny_set({shm, deleted, debugfs}, {});
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_EQ(set.entries.size(), 5u);
  EXPECT_EQ(set.entries[0].flags, uint32_t(KS_DENY_F_PATH_PREFIX));  // bprm (51) first
  EXPECT_EQ(set.entries[2].flags, uint32_t(KS_DENY_F_UNLINKED));
  EXPECT_EQ(set.entries[3].flags, uint32_t(KS_DENY_F_FSTYPE));
  EXPECT_EQ(std::string(set.entries[4].path, set.entries[4].path_len), "cgroup");
  DenyRule wrong{.name = "wrong", .event_types = {EventType::openat}, .fstypes = {"debugfs"}};
  EXPECT_EQ(compile_deny_set({wrong}, {}).refused.size(), 1u);
}

// An opt-out (`and not container.id in (...)`) is an allow entry before the rule's own entries
// at each hook: the kernel skips the rule for it, and only for it.
TEST(DenyCompiler, ExceptionsBecomeAllowEntriesBeforeTheRulesOwn) {
  DenyRule ring{.name = "ring", .event_types = {EventType::io_uring_setup}, .any_container = true};
  DenyRule allowed{.name = "ring-ok", .container_ids = {"builder"}};
  ring.exceptions = {allowed};
  DenyRule other{.name = "bpf", .event_types = {EventType::bpf}, .any_container = true};
  ContainerCgroups cg{100, {{"builder", 7}}};
  auto set = compile_deny_set({ring, other}, cg);
  ASSERT_TRUE(set.refused.empty()) << set.refused[0];
  ASSERT_EQ(set.entries.size(), 3u);
  const auto& allow = set.entries[set.ranges[KS_EVT_LSM_ANON_INODE].start];
  const auto& deny = set.entries[set.ranges[KS_EVT_LSM_ANON_INODE].start + 1];
  EXPECT_EQ(set.ranges[KS_EVT_LSM_ANON_INODE].count, 2u);
  EXPECT_EQ(allow.flags, uint32_t(KS_DENY_F_ALLOW | KS_DENY_F_CGROUP));
  EXPECT_EQ(allow.cgroup_id, 7u);
  EXPECT_EQ(allow.path_len, 0u) << "an exception needs no operation name";
  EXPECT_EQ(deny.flags, uint32_t(KS_DENY_F_PATH_EXACT | KS_DENY_F_CGROUP));
  EXPECT_EQ(deny.cgroup_id, 100u);
  EXPECT_EQ(allow.rule_id, deny.rule_id);
  // Near miss: an exception that is not running yet has no entry; one naming a type is refused.
  auto idle = compile_deny_set({ring}, ContainerCgroups{100, {}});
  EXPECT_EQ(idle.entries.size(), 1u);
  DenyRule bad = ring;
  bad.exceptions[0].event_types = {EventType::openat};
  EXPECT_EQ(compile_deny_set({bad}, cg).refused.size(), 1u);
}

}  // namespace
}  // namespace kata_sentry::guest_probes
