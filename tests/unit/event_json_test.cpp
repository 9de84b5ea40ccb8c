#include <fcntl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "core/event_json.h"

namespace kata_sentry {
namespace {

Event sample_event() {
  Event e;
  e.type = EventType::openat;
  e.view = View::guest;
  e.time_ns = 1'795'000'000'123'456'789ULL;
  e.has_res = true;
  e.res = 3;
  e.sandbox_id = "sb-1";
  e.container_id = "c1";
  e.vmm_pid = 99;
  e.pod_name = "web";
  e.pod_namespace = "shop";
  e.pod_uid = "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b";
  e.proc.pid = 10;
  e.proc.tid = 11;
  e.proc.ppid = 1;
  e.proc.uid = 0;
  e.proc.gid = 0;
  e.proc.name = "cat";
  e.proc.exepath = "/bin/cat";
  e.proc.args = {"/etc/hostname"};
  e.proc.pname = "sh";
  e.proc.ancestors = {{1, "sh", "/bin/sh", "sh -c cat"}, {0, "init", "", ""}};
  e.proc.cgroup_id = 5;
  e.path = "/etc/hostname";
  e.arg = {O_RDONLY | O_CLOEXEC, 0, uint64_t(AT_FDCWD)};
  return e;
}

TEST(EventJson, KeysAreFalcoNames) {
  auto j = event_to_json(sample_event());
  EXPECT_EQ(j["evt.type"], "openat");
  EXPECT_EQ(j["evt.res"], 3);
  EXPECT_EQ(j["view"], "guest");
  EXPECT_EQ(j["k8s.pod.uid"], "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b");
  EXPECT_EQ(j["fd.name"], "/etc/hostname");
  EXPECT_EQ(j["proc.cmdline"], "cat /etc/hostname");
  EXPECT_EQ(j["proc.aname[1]"], "sh");
  EXPECT_EQ(j["evt.arg.flags"], "O_RDONLY|O_CLOEXEC");
  EXPECT_EQ(j["time"], "2026-11-18T11:06:40.123456789Z");
}

TEST(EventJson, RoundTripIsLossless) {
  auto e = sample_event();
  auto back = event_from_json_line(event_to_json_line(e));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, e);

  Event c;
  c.type = EventType::connect;
  c.time_ns = 1;
  c.has_res = true;
  c.res = -111;
  c.proc.name = "nc";
  c.addr = {AF_INET6, 8080, 0, "::1"};
  c.arg = {3};
  auto back2 = event_from_json_line(event_to_json_line(c));
  ASSERT_TRUE(back2);
  EXPECT_EQ(*back2, c);
}

// The formatter keeps the last second's text: alternating seconds must not reuse it.
TEST(EventJson, TimeTextFollowsEverySecondChange) {
  EXPECT_EQ(format_rfc3339_ns(1'795'000'000'123'456'789ULL), "2026-11-18T11:06:40.123456789Z");
  EXPECT_EQ(format_rfc3339_ns(5), "1970-01-01T00:00:00.000000005Z");
  EXPECT_EQ(format_rfc3339_ns(1'795'000'001'000'000'000ULL), "2026-11-18T11:06:41.000000000Z");
  EXPECT_EQ(format_rfc3339_ns(1'795'000'000'999'999'999ULL), "2026-11-18T11:06:40.999999999Z");
}

TEST(EventJson, BadInputNamesTheKey) {
  auto r = event_from_json_line(R"({"evt.type":"nope"})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nope"), std::string::npos);
  r = event_from_json_line(R"({"evt.type":"execve","proc.pid":"x"})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("proc.pid"), std::string::npos);
  EXPECT_FALSE(event_from_json_line("{"));
}

TEST(EventJson, Rfc3339) {
  auto t = parse_rfc3339_ns("2026-11-18T11:06:40.5Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1'795'000'000'500'000'000ULL);
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-18 09:46:40"));
}

TEST(EventJson, OpenFlags) {
  EXPECT_EQ(format_open_flags(O_WRONLY | O_CREAT | O_TRUNC), "O_WRONLY|O_CREAT|O_TRUNC");
  EXPECT_EQ(format_open_flags(O_RDWR), "O_RDWR");
}

}  // namespace
}  // namespace kata_sentry
