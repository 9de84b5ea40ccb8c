// A CRI pod's identity and VM size from the CRI plugin's sandbox annotations (no VM, no root).
#include "runtime/shim/cri_annotations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kata_sentry::shim {
namespace {

CriAnnotations with(std::string period, std::string quota, std::string memory) {
  CriAnnotations a;
  a.sandbox_cpu_period = std::move(period);
  a.sandbox_cpu_quota = std::move(quota);
  a.sandbox_memory = std::move(memory);
  return a;
}

// The pod's Kubernetes identity (k8s.pod.name / k8s.ns.name / k8s.pod.uid in alerts) as the
// CRI plugin writes it into the sandbox container's OCI spec; a plain `ctr run` has none.
TEST(CriAnnotations, PodIdentityFromTheSandboxSpec) {
  namespace fs = std::filesystem;
  fs::path bundle = fs::temp_directory_path() / ("ks-cri-annotations-" + std::to_string(::getpid()));
  fs::create_directories(bundle);
  std::ofstream(bundle / "config.json") << R"({"ociVersion": "1.0.2", "annotations": {
      "io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "abc",
      "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop",
      "io.kubernetes.cri.sandbox-uid": "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b"}})";
  auto a = read_cri_annotations(bundle);
  EXPECT_EQ(a.container_type, "sandbox");
  EXPECT_EQ(a.sandbox_name, "web");
  EXPECT_EQ(a.sandbox_namespace, "shop");
  EXPECT_EQ(a.sandbox_uid, "6f2b1c3e-9d1a-4f4e-8a55-0c1d2e3f4a5b");

  std::ofstream(bundle / "config.json") << R"({"ociVersion": "1.0.2", "annotations": {"io.kubernetes.cri.sandbox-uid": 7}})";
  EXPECT_EQ(read_cri_annotations(bundle).sandbox_uid, "") << "not a string: no uid";
  std::ofstream(bundle / "config.json") << R"({"ociVersion": "1.0.2"})";
  EXPECT_EQ(read_cri_annotations(bundle).sandbox_uid, "");
  fs::remove_all(bundle);
}

TEST(PodVmSize, BasePlusThePodsLimitsRoundedUp) {
  auto none = pod_vm_size(with("", "", ""), {1, 512}, 64, 24000);
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_EQ(none->cpus, 1);
  EXPECT_EQ(none->memory_mb, 512);
  // 1.5 CPUs -> 2 more vCPUs; 256 MiB + 1 byte -> 257 MiB more.
  auto sized = pod_vm_size(with("100000", "150000", std::to_string((256ll << 20) + 1)), {1, 512}, 64, 24000);
  ASSERT_TRUE(sized) << sized.error().describe();
  EXPECT_EQ(sized->cpus, 3);
  EXPECT_EQ(sized->memory_mb, 512 + 257);
  // kubelet's "no CPU limit" quota.
  auto unlimited = pod_vm_size(with("100000", "-1", "0"), {1, 512}, 64, 24000);
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(unlimited->cpus, 1);
}

TEST(PodVmSize, BadValuesAreRefusedNamingThem) {
  struct Case {
    CriAnnotations a;
    std::string want;
  } cases[] = {
      {with("100000", "1e5", ""), "io.kubernetes.cri.sandbox-cpu-quota=\"1e5\" is not a number"},
      {with("", "", "256Mi"), "io.kubernetes.cri.sandbox-memory=\"256Mi\" is not a number"},
      {with("", "", "-5"), "negative"},
      {with("0", "50000", ""), "cpu quota 50000 without a cpu period"},
      {with("100000", "6400000", ""), "asks for 64 CPUs; a VM has at most 64"},
      {with("", "", std::to_string(1ll << 40)), "exceed the 24000 MiB one VM may have"},
  };
  for (const auto& c : cases) {
    auto r = pod_vm_size(c.a, {1, 512}, 64, 24000);
    ASSERT_FALSE(r) << c.want;
    EXPECT_NE(r.error().message.find(c.want), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace kata_sentry::shim
