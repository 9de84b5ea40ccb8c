// The fallback decision and report are pure functions of the detected capabilities.
#include <gtest/gtest.h>

#include "syscall-probes/capabilities.h"
#include "host-probes/trace.h"

namespace kata_sentry::probes {
namespace {

BpfCapabilities caps(bool fentry, bool lsm) {
  BpfCapabilities c;
  c.tracepoint = {true, "a program loads"};
  c.fentry = {fentry, fentry ? "a program loads" : "BPF_PROG_LOAD EPERM"};
  c.bpf_lsm = {lsm, lsm ? "active LSMs: bpf" : "bpf is an active LSM, but lsm programs fail: BPF_PROG_LOAD EPERM"};
  return c;
}

TEST(Capabilities, FallsBackToTracepointsAndSaysWhy) {
  auto b = choose_backend(caps(false, false));
  EXPECT_FALSE(b.use_lsm);
  EXPECT_FALSE(b.use_fentry);
  EXPECT_EQ(b.report,
            "using tracepoints: fentry unavailable: BPF_PROG_LOAD EPERM; lsm unavailable: bpf is an active LSM, "
            "but lsm programs fail: BPF_PROG_LOAD EPERM");
}

TEST(Capabilities, UsesLsmWhereItWorks) {
  auto b = choose_backend(caps(true, true));
  EXPECT_TRUE(b.use_lsm);
  EXPECT_EQ(b.report, "using tracepoints + lsm");
}

TEST(Capabilities, FindsProgramTypesByName) {
  BpfCapabilities c;
  c.prog_types = {{"tracepoint", true, ""}, {"fentry", false, "BPF_PROG_LOAD EPERM"}};
  ASSERT_NE(c.find("fentry"), nullptr);
  EXPECT_FALSE(c.find("fentry")->loads);
  EXPECT_EQ(c.find("lsm"), nullptr);
}

TEST(Capabilities, ReadsTheLsmList) {
  EXPECT_EQ(read_lsm_list("/nonexistent-securityfs"), "");
}

TEST(TraceSummary, NamesEveryCounter) {
  TraceSummary s;
  s.printed = 3;
  s.received = 5;
  s.ringbuf_drops = 1;
  s.pending_drops = 2;
  EXPECT_EQ(format_summary(s),
            "events: 3 printed, 5 received; drops: 3 (ring buffer 1, pairing table 2); decode errors: 0; "
            "process table evictions: 0");
}

}  // namespace
}  // namespace kata_sentry::probes
