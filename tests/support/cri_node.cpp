#include "tests/support/cri_node.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <yaml-cpp/yaml.h>

namespace kata_sentry::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kCriNamespace = "k8s.io";  // the CRI plugin's containerd namespace, always

}  // namespace

std::string CriNode::cgroup_parent() { return "/ks-cri-node-" + std::to_string(::getpid()); }

std::string CriNode::runtime_class_handler(const fs::path& source_dir) {
  try {
    for (const auto& doc : YAML::LoadAllFromFile((source_dir / "deploy/kubernetes/runtimeclass.yaml").string()))
      if (doc["kind"] && doc["kind"].as<std::string>() == "RuntimeClass") return doc["handler"].as<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

std::vector<std::string> CriNode::ctr(const std::vector<std::string>& args) const {
  std::vector<std::string> v = {"ctr", "--address", cd_.socket().string(), "--namespace", kCriNamespace};
  v.insert(v.end(), args.begin(), args.end());
  return v;
}

Status CriNode::start(const CriNodeOptions& options) {
  if (dir_.path().empty()) return fail(ErrorCode::io, "CRI node: no temporary directory");
  // Unique per process: other tests run on the same kernel.
  bridge_ = "kscri" + std::to_string(::getpid() % 100000);
  prefix_ = "10.213." + std::to_string(::getpid() % 250 + 1);
  auto add = run({"ip", "link", "add", bridge_, "type", "bridge"});
  if (add.status != 0) {
    std::string out = add.out;
    bridge_.clear();
    return fail(ErrorCode::io, "CRI node: create bridge: " + out);
  }
  auto addr = run({"ip", "addr", "add", gateway() + "/24", "dev", bridge_});
  auto up = run({"ip", "link", "set", bridge_, "up"});
  if (addr.status != 0 || up.status != 0) return fail(ErrorCode::io, "CRI node: bridge " + bridge_ + ": " + addr.out + up.out);

  dir_.write("shim.yaml", "daemon_policy: fail-open\n");
  // host-local keeps its leases in dataDir: ours, removed with the directory.
  dir_.write("net.d/10-ks.conflist", R"({"cniVersion": "0.4.0", "name": ")" + bridge_ +
                                         R"(", "plugins": [{"type": "bridge", "bridge": ")" + bridge_ +
                                         R"(", "isGateway": false, "ipMasq": false, "ipam": {"type": "host-local",
        "ranges": [[{"subnet": ")" + subnet() + R"(", "gateway": ")" + gateway() + R"("}]],
        "routes": [{"dst": "0.0.0.0/0"}], "dataDir": ")" + (dir_.path() / "ipam").string() + R"("}},
      {"type": "loopback"}]})");
  std::stringstream snippet;
  snippet << std::ifstream(options.source_dir / "deploy/containerd/kata-sentry.toml").rdbuf();
  if (snippet.str().empty()) return fail(ErrorCode::not_found, "CRI node: deploy/containerd/kata-sentry.toml is empty or missing");
  PrivateContainerdOptions o;
  o.cri = true;
  o.env = {{"PATH", path_with(options.bin_dir)}, {"KATA_SENTRY_SHIM_CONFIG", shim_config().string()}};
  // What a node's config says, then the deploy snippet exactly as an operator appends it.
  o.extra_config = "[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"" + options.pause_image +
                   "\"\n  restrict_oom_score_adj = true\n"
                   "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n  conf_dir = \"" +
                   (dir_.path() / "net.d").string() + "\"\n" + snippet.str();
  if (auto st = cd_.start(o); !st) return st;
  for (const auto& image : options.images) {
    auto r = run(ctr({"images", "import", image}));
    if (r.status != 0) return fail(ErrorCode::io, "CRI node: import " + image + ": " + r.out);
  }
  auto c = cri::CriClient::connect(cd_.socket().string());
  if (!c) return std::unexpected(c.error());
  client_ = std::make_unique<cri::CriClient>(std::move(*c));
  // The CRI plugin loads the CNI config asynchronously: NetworkReady is the positive marker.
  for (int i = 0; i < 100; i++) {
    auto conds = client_->status();
    if (conds)
      for (const auto& cond : *conds)
        if (cond.type == "NetworkReady" && cond.status) return {};
    std::this_thread::sleep_for(100ms);
  }
  return fail(ErrorCode::timeout, "CRI node: NetworkReady never became true; containerd log: " + cd_.log_tail());
}

void CriNode::remove_all_pods() {
  if (!client_) return;
  if (auto pods = client_->list_pods(); pods) {
    for (const auto& p : *pods) {
      (void)client_->stop_pod(p.id);
      (void)client_->remove_pod(p.id);
    }
  }
}

CriNode::~CriNode() {
  // Whatever a failed assertion left goes before containerd (PrivateContainerd's destructor,
  // after this body).
  remove_all_pods();
  // runc leaves the (empty) pod cgroups below our cgroup parent in every hierarchy.
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path d = h.path() / cgroup_parent().substr(1);
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& sub : fs::directory_iterator(d, ec))
      if (sub.is_directory(ec)) ::rmdir(sub.path().c_str());
    ::rmdir(d.c_str());
  }
  if (!bridge_.empty()) run({"ip", "link", "del", bridge_});
}

}  // namespace kata_sentry::test_support
