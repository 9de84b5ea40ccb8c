#include <sys/socket.h>

#include <gtest/gtest.h>

#include "event_convert.h"

namespace kata_sentry {
namespace {

TEST(EventProto, RoundTripIsLossless) {
  Event e;
  e.type = EventType::connect;
  e.view = View::guest;
  e.time_ns = 123;
  e.has_res = true;
  e.res = -111;
  e.flags = 8;
  e.sandbox_id = "sb";
  e.sandbox_name = "pod-sb";
  e.vmm_pid = 7;
  e.container_id = "c";
  e.pod_name = "p";
  e.pod_namespace = "ns";
  e.pod_uid = "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b";
  e.proc = {1, 2, 3, 4, 5, 6, 7, 8, 9, "nc", "/bin/nc", {"127.0.0.1", "9"}, "sh", {{3, "sh", "/bin/sh", "sh -c nc"}}, true};
  e.path = "p1";
  e.path2 = "p2";
  e.fstype = "ext4";
  e.arg = {3};
  e.addr = {AF_VSOCK, 1024, 2, ""};
  v1::Event m;
  event_to_proto(e, m);
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(m.SerializeAsString()));
  auto back = event_from_proto(parsed);
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(*back, e);
}

TEST(EventProto, RefusesUnknownTypeAndView) {
  v1::Event m;
  m.set_type(9999);
  EXPECT_FALSE(event_from_proto(m));
  m.set_type(1);
  m.set_view(static_cast<v1::View>(7));
  EXPECT_FALSE(event_from_proto(m));
}

}  // namespace
}  // namespace kata_sentry
