// A node as kubelet sees it, for the CRI tests and benchmarks: a private containerd with its CRI
// plugin on (a local pause image, restrict_oom_score_adj as MACHINE.md requires here) and
// deploy/containerd/kata-sentry.toml appended verbatim, CNI from Debian's containernetworking-
// plugins (bridge + host-local + loopback) on a bridge of its own with the gateway address (made
// here, not by the plugin, which with isGateway would turn on the host's ip_forward), the busybox
// and pause images in the k8s.io namespace, and a CRI client connected once NetworkReady holds.
//
// The destructor stops and removes every pod still there (CNI DEL, netns), then containerd,
// removes the cgroups runc made below cgroup_parent(), the bridge and the directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "cli/cri_client.h"
#include "core/result.h"
#include "tests/support/private_containerd.h"

namespace kata_sentry::test_support {

struct CriNodeOptions {
  std::filesystem::path bin_dir;       // where containerd-shim-kata-sentry-v2 is (first on containerd's PATH)
  std::filesystem::path source_dir;    // the checkout (deploy/ is read from it)
  std::vector<std::string> images;     // OCI tarballs imported into k8s.io (busybox, pause)
  std::string pause_image;             // the CRI plugin's sandbox_image, one of `images`
};

class CriNode {
 public:
  CriNode() = default;
  CriNode(const CriNode&) = delete;
  CriNode& operator=(const CriNode&) = delete;
  ~CriNode();

  // Fails naming the step (bridge, containerd, import, NetworkReady) with containerd's log.
  Status start(const CriNodeOptions& options);

  cri::CriClient& client() { return *client_; }
  // Stops and removes every pod (CNI DEL, netns removed), as kubelet does when pods are deleted.
  void remove_all_pods();
  PrivateContainerd& containerd() { return cd_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The shim's config file (KATA_SENTRY_SHIM_CONFIG of every shim): fail-open until rewritten.
  std::filesystem::path shim_config() const { return dir_.path() / "shim.yaml"; }

  const std::string& bridge() const { return bridge_; }
  std::string gateway() const { return prefix_ + ".1"; }
  std::string subnet() const { return prefix_ + ".0/24"; }
  bool in_subnet(const std::string& ip) const { return ip.starts_with(prefix_ + "."); }
  // cgroupfs-style parent for the pods (runc's pod cgroups are ours to remove, never k8s.io's).
  static std::string cgroup_parent();
  // The handler of the RuntimeClass in deploy/kubernetes/runtimeclass.yaml ("" if unreadable).
  static std::string runtime_class_handler(const std::filesystem::path& source_dir);
  // `ctr` against this containerd in the CRI plugin's namespace, followed by `args`.
  std::vector<std::string> ctr(const std::vector<std::string>& args) const;

 private:
  TempDir dir_{"ks-cri-node-"};
  std::string bridge_, prefix_;
  PrivateContainerd cd_;
  std::unique_ptr<cri::CriClient> client_;
};

}  // namespace kata_sentry::test_support
