// Reporter: the host's identity of a sandbox and of a CRI pod on every event and alert, whatever
// the event claimed (the guest's word never names its sandbox or pod).
#include "monitor/reporter.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/event_builder.h"

namespace kata_sentry::monitor {
namespace {

using kata_sentry::testing::EventBuilder;

constexpr const char* kUid = "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b";

TEST(Reporter, StampsTheSandboxAndThePodOverWhatTheEventClaimed) {
  Reporter r("sb1", "shop/web", nullptr, {}, PodLabels{"web", "shop", kUid});
  Event e = EventBuilder().exec("/bin/sh").guest().container("c1").build();
  e.sandbox_id = "forged";
  e.pod_name = "forged";
  e.pod_uid = "forged";
  r.stamp(e);
  EXPECT_EQ(e.sandbox_id, "sb1");
  EXPECT_EQ(e.sandbox_name, "shop/web");
  EXPECT_EQ(e.pod_name, "web");
  EXPECT_EQ(e.pod_namespace, "shop");
  EXPECT_EQ(e.pod_uid, kUid);

  // A pod the shim knew no uid of (its annotations had none): the event's claim goes all the same.
  Reporter no_uid("sb1", "shop/web", nullptr, {}, PodLabels{"web", "shop"});
  e.pod_uid = "forged";
  no_uid.stamp(e);
  EXPECT_EQ(e.pod_uid, "");
}

TEST(Reporter, AlertsOfAPodCarryItsKubernetesNames) {
  std::vector<policy::Alert> seen;
  Reporter pod("sb1", "shop/web", nullptr, {.on_alert = [&](const policy::Alert& a) { seen.push_back(a); }},
               PodLabels{"web", "shop", kUid});
  policy::Alert a;
  pod.alert(a);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].sandbox, "sb1");
  EXPECT_EQ(seen[0].output_fields["k8s.pod.name"], "web");
  EXPECT_EQ(seen[0].output_fields["k8s.ns.name"], "shop");
  EXPECT_EQ(seen[0].output_fields["k8s.pod.uid"], kUid);

  // Not a CRI pod (ctr run, kata-sentry run): no k8s fields at all.
  Reporter plain("sb2", "sb2", nullptr, {.on_alert = [&](const policy::Alert& a) { seen.push_back(a); }});
  policy::Alert b;
  plain.alert(b);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[1].output_fields.contains("k8s.pod.name"));
  EXPECT_FALSE(seen[1].output_fields.contains("k8s.pod.uid"));
}

}  // namespace
}  // namespace kata_sentry::monitor
