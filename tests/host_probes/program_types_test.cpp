// syscall_program_type(): the table that lets the probes attach only wanted programs must name
// every per-syscall program of the object, or that program would be attached always (safe, but
// the saving is lost without anyone noticing).
#include "syscall-probes/program_types.h"

#include <gtest/gtest.h>

#include <bpf/libbpf.h>
#include <linux/types.h>

#include <string>

#include "syscall-probes/bpf/syscall_probes_cfg.h"  // the skeleton names its rodata types
#include "syscall_probes.skel.h"

namespace kata_sentry::probes {
namespace {

TEST(ProgramTypes, ASyscallsEnterProgramBuildsItsType) {
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_openat"), EventType::openat);
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_tgkill"), EventType::kill);  // several share one type
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_setreuid"), EventType::setresuid);
}

TEST(ProgramTypes, LifecycleAndOtherProgramsHaveNone) {
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_execve"), std::nullopt);  // the process table's
  EXPECT_EQ(syscall_program_type("tp/sched/sched_process_exit"), std::nullopt);
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_exit"), std::nullopt);  // the shared exit: with each enter
  EXPECT_EQ(syscall_program_type("lsm/bprm_check_security"), std::nullopt);
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_no_such_call"), std::nullopt);
  EXPECT_EQ(syscall_program_type("tp/syscalls/sys_enter_"), std::nullopt);
}

TEST(ProgramTypes, EverySyscallProgramOfTheObjectIsListed) {
  syscall_probes* skel = syscall_probes__open();  // parses the object; loads nothing
  ASSERT_NE(skel, nullptr);
  size_t syscall_programs = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    std::string section = bpf_program__section_name(prog);
    if (!section.starts_with("tp/syscalls/sys_enter_")) continue;
    ++syscall_programs;
    if (section.ends_with("_execve") || section.ends_with("_execveat")) continue;
    EXPECT_NE(syscall_program_type(section), std::nullopt) << section << " is missing from program_types.cpp";
  }
  syscall_probes__destroy(skel);
  EXPECT_GT(syscall_programs, 60u);
}

}  // namespace
}  // namespace kata_sentry::probes
