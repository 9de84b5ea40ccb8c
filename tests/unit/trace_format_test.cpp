// kata-trace's output: one readable line per event, colour only when asked, nothing a guest
// chose can drive the terminal, JSON identical to `kata-sentry trace --format json`.
#include <gtest/gtest.h>

#include "core/event_json.h"
#include "tests/support/event_builder.h"
#include "tools/kata-trace/trace_format.h"

namespace kata_sentry::trace {
namespace {

using kata_sentry::testing::EventBuilder;

TEST(TraceFormat, CompactLineHasTagViewPlaceProcessWhatAndResult) {
  Event e = EventBuilder().open("/etc/shadow").name("cat").pid(42).guest().container("0123456789abcdef0123").res(-13).build();
  e.sandbox_id = "sb1";
  std::string line = event_line(e, LineFormat::compact, false);
  EXPECT_NE(line.find("OPEN"), std::string::npos) << line;
  EXPECT_NE(line.find("guest"), std::string::npos) << line;
  EXPECT_NE(line.find("sb1/0123456789ab "), std::string::npos) << "container ids are cut to 12: " << line;
  EXPECT_NE(line.find("cat[42]"), std::string::npos) << line;
  EXPECT_NE(line.find("/etc/shadow O_RDONLY"), std::string::npos) << line;
  EXPECT_NE(line.find("EACCES"), std::string::npos) << line;
  EXPECT_EQ(line.find('\033'), std::string::npos);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  std::string wide = event_line(e, LineFormat::wide, false);
  EXPECT_NE(wide.find("openat"), std::string::npos) << wide;
  EXPECT_NE(wide.find("uid=0"), std::string::npos) << wide;
}

TEST(TraceFormat, ColourOnlyWhenAskedAndGuestTextCannotDriveTheTerminal) {
  Event e = EventBuilder().exec("/bin/\033]0;owned\007sh", {"-c", "x\ny"}).guest().build();
  e.proc.name = "\033[2Jsh";
  std::string plain = event_line(e, LineFormat::compact, false);
  EXPECT_EQ(plain.find('\033'), std::string::npos) << plain;
  EXPECT_EQ(plain.find('\n'), std::string::npos) << plain;
  EXPECT_NE(plain.find("\\x1b[2Jsh"), std::string::npos) << plain;
  std::string coloured = event_line(e, LineFormat::compact, true);
  EXPECT_NE(coloured.find("\033[32mEXEC"), std::string::npos) << "our own colour codes";
  EXPECT_EQ(coloured.find("\033[2J"), std::string::npos) << "the guest's are escaped";
}

TEST(TraceFormat, JsonIsTheTraceCommandsLine) {
  Event e = EventBuilder().connect("10.0.0.1", 443).name("curl").guest().container("c1").build();
  EXPECT_EQ(event_line(e, LineFormat::json, true), event_to_json_line(e));
}

TEST(TraceFormat, AlertLineShowsPriorityRuleAndOutputWithoutFalcosPrefix) {
  AlertItem a;
  a.time_ns = 1'763'880'000'000'000'000ull;
  a.sandbox_id = "sb1";
  a.container_id = "c1";
  a.rule = "Guest kernel module load";
  a.priority = "Critical";
  a.json = R"j({"output":"07:33:20.000000000: Critical Kernel module loaded (process=insmod)","rule":"Guest kernel module load"})j";
  std::string line = alert_line(a, LineFormat::compact, false);
  EXPECT_NE(line.find("Critical"), std::string::npos) << line;
  EXPECT_NE(line.find("[Guest kernel module load] Kernel module loaded (process=insmod)"), std::string::npos) << line;
  EXPECT_EQ(alert_line(a, LineFormat::json, false), a.json);
}

}  // namespace
}  // namespace kata_sentry::trace
