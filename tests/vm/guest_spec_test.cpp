// plan_guest_spec(): how a CRI container's host spec becomes the guest's (no VM, no root).
#include "runtime/sandbox/guest_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/guest_paths.h"

namespace ks = kata_sentry;
namespace fs = std::filesystem;

namespace {

struct TempTree {
  fs::path dir;
  TempTree() {
    char t[] = "/tmp/ks-guest-spec-XXXXXX";
    dir = ::mkdtemp(t);
    fs::create_directories(dir / "data");
    std::ofstream(dir / "resolv.conf") << "nameserver 10.0.0.10\n";
  }
  ~TempTree() { fs::remove_all(dir); }
};

ks::OciSpec cri_container_spec(const TempTree& t) {
  ks::OciSpec s = ks::default_oci_spec({"sh"}, false);
  s.mounts.push_back({"/etc/resolv.conf", "bind", (t.dir / "resolv.conf").string(), {"rbind", "rprivate", "ro"}});
  s.mounts.push_back({"/data", "bind", (t.dir / "data").string(), {"rbind", "rprivate", "rw"}});
  s.mounts.push_back({"/dev/shm", "bind", "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/x/shm", {"rbind", "rw"}});
  s.linux.namespaces = {{"pid", ""}, {"mount", ""}, {"network", "/proc/42/ns/net"}, {"ipc", "/proc/42/ns/ipc"},
                        {"uts", "/proc/42/ns/uts"}};
  return s;
}

}  // namespace

TEST(GuestSpec, HostBindsGoThroughTheShareAndKeepReadOnly) {
  TempTree t;
  auto plan = ks::runtime::plan_guest_spec(cri_container_spec(t), {.pod_shm = true, .in_pod = true});
  ASSERT_TRUE(plan) << plan.error().describe();
  ASSERT_EQ(plan->binds.size(), 2u);
  const auto& mounts = plan->spec.mounts;
  size_t base = mounts.size() - 3;
  EXPECT_EQ(plan->binds[0].source, t.dir / "resolv.conf");
  EXPECT_FALSE(plan->binds[0].directory);
  EXPECT_TRUE(plan->binds[0].readonly);
  EXPECT_EQ(mounts[base].source, plan->binds[0].share_path);
  EXPECT_EQ(plan->binds[1].source, t.dir / "data");
  EXPECT_TRUE(plan->binds[1].directory);
  EXPECT_FALSE(plan->binds[1].readonly);
  EXPECT_EQ(mounts[base + 1].source, plan->binds[1].share_path);
  EXPECT_NE(plan->binds[0].share_path, plan->binds[1].share_path);
  EXPECT_FALSE(fs::path(plan->binds[1].share_path).is_absolute());  // resolved against the guest bundle
  // The pod's shm is guest memory, not the host's tmpfs.
  EXPECT_EQ(mounts[base + 2].source, ks::guest_paths::kPodShm);
}

TEST(GuestSpec, NamespacePathsBecomeThePodsInTheGuest) {
  TempTree t;
  auto plan = ks::runtime::plan_guest_spec(cri_container_spec(t), {.pod_shm = true, .in_pod = true});
  ASSERT_TRUE(plan) << plan.error().describe();
  for (const auto& ns : plan->spec.linux.namespaces) {
    EXPECT_TRUE(ns.path.empty()) << ns.type << " " << ns.path;
    EXPECT_NE(ns.type, "network");  // the VM's network is the pod's
  }
  EXPECT_EQ(plan->pod_namespaces, (std::vector<std::string>{"ipc", "uts"}));
}

TEST(GuestSpec, RefusesWhatTheGuestCannotHonour) {
  TempTree t;
  ks::OciSpec s = cri_container_spec(t);
  s.mounts.push_back({"/nope", "bind", (t.dir / "does-not-exist").string(), {"rbind"}});
  auto missing = ks::runtime::plan_guest_spec(s, {.pod_shm = true, .in_pod = true});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nope: source " + (t.dir / "does-not-exist").string() + " does not exist"),
            std::string::npos)
      << missing.error().message;

  ks::OciSpec pid = cri_container_spec(t);
  pid.linux.namespaces[0].path = "/proc/42/ns/pid";
  auto shared_pid = ks::runtime::plan_guest_spec(pid, {.pod_shm = true, .in_pod = true});
  ASSERT_FALSE(shared_pid);
  EXPECT_NE(shared_pid.error().message.find("pid /proc/42/ns/pid"), std::string::npos) << shared_pid.error().message;

  // Outside a CRI pod an ipc path names a host process: never joined.
  ks::OciSpec plain = cri_container_spec(t);
  plain.mounts.pop_back();  // the CRI shm bind, whose host source does not exist here
  auto not_pod = ks::runtime::plan_guest_spec(plain, {.pod_shm = false, .in_pod = false});
  ASSERT_FALSE(not_pod);
  EXPECT_NE(not_pod.error().message.find("ipc /proc/42/ns/ipc"), std::string::npos) << not_pod.error().message;
}

TEST(GuestSpec, PlainContainerIsUnchanged) {
  ks::OciSpec s = ks::default_oci_spec({"true"}, false);
  auto plan = ks::runtime::plan_guest_spec(s, {});
  ASSERT_TRUE(plan) << plan.error().describe();
  EXPECT_TRUE(plan->binds.empty());
  EXPECT_TRUE(plan->pod_namespaces.empty());
  EXPECT_EQ(ks::oci_spec_to_json(plan->spec), ks::oci_spec_to_json(s));
}
