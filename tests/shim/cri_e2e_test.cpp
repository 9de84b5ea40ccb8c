// A kata-sentry pod as kubelet starts it: containerd's real CRI plugin with the RuntimeClass
// handler "kata-sentry" declared by deploy/containerd/kata-sentry.toml (appended verbatim to the
// private containerd's config), CNI from Debian's containernetworking-plugins (bridge +
// host-local + loopback) on a bridge of the test's own, and kata-sentry's CRI client
// (cli/cri_client.h) doing what kubelet does. Proves: the pod gets a CNI address that the guest
// answers on (busybox httpd inside the VM, fetched from the host and from a runc pod on the same
// bridge), the VM reaches the bridge's gateway and the runc pod, DNS and hostname follow the
// CRI config, host volumes reach the container read-only and read-write through virtio-fs, and
// stopping and removing the pod leaves no shim, QEMU, virtiofsd, netns, cgroup or sandbox dir.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/cgroup2.h"
#include "tests/support/cri_node.h"

namespace kata_sentry::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kImage = "docker.io/kata-sentry/busybox:latest";
constexpr const char* kPauseImage = "docker.io/kata-sentry/pause:latest";
constexpr const char* kCorePatternWrite = "echo '|/x' > /proc/sys/kernel/core_pattern";

fs::path write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class CriE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "needs root (containerd, CNI, mounts, QEMU)";
    ASSERT_TRUE(fs::exists("/usr/lib/cni/bridge")) << "containernetworking-plugins missing (scripts/setup.sh)";
    auto st = node_.start({KS_BIN_DIR, KS_SOURCE_DIR, {KS_BUSYBOX_OCI, KS_PAUSE_OCI}, kPauseImage});
    ASSERT_TRUE(st) << st.error().describe();
    client_ = &node_.client();
    // The handler a pod with `runtimeClassName: kata-sentry` reaches the CRI with.
    handler_ = CriNode::runtime_class_handler(KS_SOURCE_DIR);
    ASSERT_FALSE(handler_.empty()) << "no RuntimeClass handler in deploy/kubernetes/runtimeclass.yaml";
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "--- containerd.log (tail) ---\n" << node_.containerd().log_tail(8000) << "\n";
  }

  cri::PodConfig pod_config(const std::string& name, const std::string& handler) const {
    cri::PodConfig p;
    p.name = name;
    p.ns = "ks-e2e";
    p.hostname = name + "-host";
    p.runtime_handler = handler;
    p.dns_servers = {"10.96.0.10"};
    p.dns_searches = {"ks-e2e.svc.cluster.local"};
    p.dns_options = {"ndots:5"};
    p.log_directory = (node_.dir() / "logs" / name).string();
    fs::create_directories(p.log_directory);  // kubelet's job
    p.cgroup_parent = CriNode::cgroup_parent();
    return p;
  }

  // A pod with one busybox httpd container serving `page` (a shell expression) on port 80.
  struct Pod {
    std::string id, container, ip;
    cri::PodConfig config;
  };
  Pod start_web_pod(const std::string& name, const std::string& handler, const std::string& page,
                    std::vector<cri::Mount> mounts = {}, cri::Resources resources = {}) {
    Pod pod;
    pod.config = pod_config(name, handler);
    pod.config.resources = resources;
    auto id = client_->run_pod(pod.config);
    EXPECT_TRUE(id) << id.error().describe();
    if (!id) return pod;
    pod.id = *id;
    cri::ContainerConfig c;
    c.name = "web";
    c.image = kImage;
    c.command = {"sh", "-c", "mkdir -p /www && " + page + " > /www/index.html && exec httpd -f -p 80 -h /www"};
    c.mounts = std::move(mounts);
    c.log_path = "web.log";
    auto cid = client_->create_container(pod.id, c, pod.config);
    EXPECT_TRUE(cid) << cid.error().describe();
    if (!cid) return pod;
    pod.container = *cid;
    auto started = client_->start_container(pod.container);
    EXPECT_TRUE(started) << started.error().describe();
    auto status = client_->pod_status(pod.id);
    EXPECT_TRUE(status) << status.error().describe();
    if (status) pod.ip = status->ip;
    return pod;
  }

  cri::ExecResult exec(const std::string& container, const std::vector<std::string>& cmd) {
    auto r = client_->exec_sync(container, cmd, 60);
    EXPECT_TRUE(r) << "exec " << cmd.front() << ": " << r.error().describe();
    return r ? *r : cri::ExecResult{"", "", -1};
  }

  // GET http://<ip>:<port>/ from the host until the server answers (it starts asynchronously).
  // curl: busybox 1.35's wget crashes with -T (a timeout is needed here).
  static CmdResult http_get_from_host(const std::string& ip, int port = 80) {
    CmdResult r;
    for (int i = 0; i < 60; i++) {
      r = run({"curl", "-s", "-f", "--noproxy", "*", "-m", "5", "http://" + ip + ":" + std::to_string(port) + "/"}, "",
              false, 20s);
      if (r.status == 0) break;
      std::this_thread::sleep_for(500ms);
    }
    return r;
  }

  // The network namespace the CRI plugin made for the pod (its sandbox container's spec).
  std::string pod_netns(const std::string& pod_id) {
    auto r = run(node_.ctr({"containers", "info", pod_id}), "", false);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded()) return "";
    for (const auto& ns : j["Spec"]["linux"]["namespaces"])
      if (ns.value("type", "") == "network") return ns.value("path", "");
    return "";
  }

  CriNode node_;
  cri::CriClient* client_ = nullptr;
  std::string handler_;
};

// The whole pod: kubelet's calls, the network both ways, DNS/hostname, volumes, teardown.
TEST_F(CriE2e, PodThroughCriRunsInTheVmWithNetworkAndVolumes) {
  const std::string release = trim(read_text(KS_GUEST_RELEASE_FILE));
  ASSERT_TRUE(release.ends_with("-cloud-amd64")) << release;
  ASSERT_NE(trim(run({"uname", "-r"}).out), release) << "the host runs the guest kernel? the test proves nothing";

  auto version = client_->version();
  ASSERT_TRUE(version) << version.error().describe();
  EXPECT_EQ(version->runtime_name, "containerd");

  // Volumes as kubelet passes them (hostPath/emptyDir are host directories bind-mounted).
  fs::path ro = node_.dir() / "vol-ro", rw = node_.dir() / "vol-rw";
  fs::create_directories(ro);
  fs::create_directories(rw);
  std::ofstream(ro / "config.txt") << "from-host-ro\n";
  std::ofstream(rw / "in.txt") << "from-host-rw\n";

  // A runc pod on the same bridge: the peer that is not the host.
  Pod peer = start_web_pod("peer", "", "echo runc-peer");
  ASSERT_FALSE(peer.container.empty());
  ASSERT_TRUE(node_.in_subnet(peer.ip)) << peer.ip;

  // The pod's limits (1 CPU, 256 MiB) size its VM on top of the base 1 vCPU / 512 MiB.
  Pod web = start_web_pod("web", handler_, "uname -r", {{"/ro", ro.string(), true}, {"/rw", rw.string(), false}},
                          {.cpu_period = 100000, .cpu_quota = 100000, .memory_limit_bytes = 256ll << 20});
  ASSERT_FALSE(web.container.empty());
  // PodSandboxStatus reports the CNI address, and the pod runs with the kata-sentry handler.
  ASSERT_TRUE(node_.in_subnet(web.ip)) << "pod IP " << web.ip << " not in " << node_.subnet();
  auto status = client_->pod_status(web.id);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->ready);
  EXPECT_EQ(status->runtime_handler, handler_);
  const std::string sandbox_dir = "/run/kata-sentry/sandboxes/" + web.id;
  EXPECT_FALSE(processes_with(sandbox_dir + "/").empty()) << "no QEMU/virtiofsd for the pod";
  const std::string netns = pod_netns(web.id);
  ASSERT_FALSE(netns.empty()) << "no network namespace in the sandbox container's spec";

  // ExecSync answers from the guest kernel.
  auto uname = exec(web.container, {"uname", "-r"});
  EXPECT_EQ(uname.exit_code, 0) << uname.err;
  EXPECT_EQ(uname.out, release + "\n");

  // A CRI spec denies every device and lists none: the runtime allows runc's defaults.
  auto devices = exec(web.container, {"sh", "-c", "echo x > /dev/null && head -c 4 /dev/urandom | wc -c"});
  EXPECT_EQ(devices.out, "4\n") << devices.err;
  EXPECT_EQ(exec(web.container, {"nproc"}).out, "2\n");
  auto meminfo = exec(web.container, {"sh", "-c", "awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo"});
  EXPECT_GT(std::atoi(meminfo.out.c_str()), 640) << "768 MiB VM: " << meminfo.out;
  EXPECT_LE(std::atoi(meminfo.out.c_str()), 768) << meminfo.out;

  // Kata's wiring in the pod's netns: an ingress qdisc (with the redirect) on the veth and the tap.
  auto qdiscs = run({"nsenter", "--net=" + netns, "tc", "qdisc", "show"});
  EXPECT_NE(qdiscs.out.find("qdisc ingress ffff: dev eth0"), std::string::npos) << qdiscs.out;
  EXPECT_NE(qdiscs.out.find("qdisc ingress ffff: dev ks-tap0"), std::string::npos) << qdiscs.out;

  // The host reaches busybox httpd inside the VM at the pod IP: the page is the guest's uname.
  auto page = http_get_from_host(web.ip);
  EXPECT_EQ(page.status, 0) << "GET http://" << web.ip << "/ failed";
  EXPECT_EQ(page.out, release + "\n");

  // The guest's interface carries the CNI address; the pod reaches the gateway (the host's
  // httpd on the bridge address) and the runc pod; the runc pod reaches the VM. (busybox 1.35's
  // wget crashes with -T: ExecSync's own timeout bounds these.)
  auto addr = exec(web.container, {"ip", "-4", "addr", "show", "eth0"});
  EXPECT_NE(addr.out.find("inet " + web.ip + "/24"), std::string::npos) << addr.out << addr.err;
  fs::create_directories(node_.dir() / "www");
  std::ofstream(node_.dir() / "www" / "index.html") << "host-gateway\n";
  Background host_httpd;
  const int host_port = 18000 + ::getpid() % 1000;
  ASSERT_TRUE(host_httpd.start({"/bin/busybox", "httpd", "-f", "-p", node_.gateway() + ":" + std::to_string(host_port),
                                "-h", (node_.dir() / "www").string()},
                               node_.dir() / "httpd.log"));
  ASSERT_EQ(http_get_from_host(node_.gateway(), host_port).out, "host-gateway\n") << "the host's own httpd";
  auto to_gw = exec(web.container, {"wget", "-q", "-O", "-",
                                    "http://" + node_.gateway() + ":" + std::to_string(host_port) + "/"});
  EXPECT_EQ(to_gw.out, "host-gateway\n") << "exit " << to_gw.exit_code << ": " << to_gw.err;
  auto to_peer = exec(web.container, {"wget", "-q", "-O", "-", "http://" + peer.ip + "/"});
  EXPECT_EQ(to_peer.out, "runc-peer\n") << "exit " << to_peer.exit_code << ": " << to_peer.err;
  auto from_peer = exec(peer.container, {"wget", "-q", "-O", "-", "http://" + web.ip + "/"});
  EXPECT_EQ(from_peer.out, release + "\n") << "exit " << from_peer.exit_code << ": " << from_peer.err;

  // DNS and hostname as the CRI config says.
  auto resolv = exec(web.container, {"cat", "/etc/resolv.conf"});
  EXPECT_NE(resolv.out.find("nameserver 10.96.0.10"), std::string::npos) << resolv.out;
  EXPECT_NE(resolv.out.find("search ks-e2e.svc.cluster.local"), std::string::npos) << resolv.out;
  EXPECT_NE(resolv.out.find("options ndots:5"), std::string::npos) << resolv.out;
  EXPECT_EQ(exec(web.container, {"hostname"}).out, "web-host\n");

  // Volumes: read-only is readable and refuses writes with EROFS; read-write round-trips
  // host -> guest -> host.
  EXPECT_EQ(exec(web.container, {"cat", "/ro/config.txt"}).out, "from-host-ro\n");
  auto ro_write = exec(web.container, {"touch", "/ro/new"});
  EXPECT_NE(ro_write.exit_code, 0);
  EXPECT_NE(ro_write.err.find("Read-only file system"), std::string::npos) << ro_write.err;
  EXPECT_FALSE(fs::exists(ro / "new"));
  auto rw_write = exec(web.container, {"sh", "-c", "cat /rw/in.txt > /rw/out.txt && echo from-guest >> /rw/out.txt"});
  EXPECT_EQ(rw_write.exit_code, 0) << rw_write.err;
  EXPECT_EQ(read_text(rw / "out.txt"), "from-host-rw\nfrom-guest\n");

  // Teardown as kubelet does it.
  for (const Pod* p : {&web, &peer}) {
    EXPECT_TRUE(client_->stop_container(p->container, 5));
    EXPECT_TRUE(client_->remove_container(p->container));
    EXPECT_TRUE(client_->stop_pod(p->id));
    EXPECT_TRUE(client_->remove_pod(p->id));
  }
  auto left = client_->list_pods();
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  for (int i = 0; i < 100 && !node_.containerd().shim_processes().empty(); i++) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(node_.containerd().shim_processes().empty()) << "shim left running";
  EXPECT_TRUE(processes_with(sandbox_dir + "/").empty()) << "QEMU/virtiofsd left running";
  EXPECT_FALSE(fs::exists(sandbox_dir)) << "sandbox dir left behind";
  EXPECT_EQ(read_text("/proc/self/mountinfo").find(sandbox_dir), std::string::npos) << "mounts left";
  EXPECT_FALSE(fs::exists(netns)) << "network namespace " << netns << " left (and with it the tap and filters)";
  EXPECT_FALSE(fs::exists(fs::path("/sys/fs/cgroup/unified") / sandbox_cgroup_name(web.id))) << "VMM cgroup left";
  // The veths went with the namespaces: nothing is attached to the bridge any more.
  EXPECT_EQ(trim(run({"ip", "-o", "link", "show", "master", node_.bridge()}).out), "");
}

// kata-sentryd watching a CRI pod: an attack from a privileged container (ExecSync) is alerted
// with the pod's Kubernetes name, namespace and uid (as RunPodSandbox gave them) and containerd's
// container id; in enforce mode the
// guest blocks it, and the host deny programs on the VMM leave the pod's network alone.
class CriSentrydE2e : public CriE2e, public ::testing::WithParamInterface<std::string> {
 protected:
  void start_daemon(const std::string& mode) {
    fs::path socket = node_.dir() / "run" / "sentryd.sock";
    fs::path config = write_file(node_.dir() / "sentryd.yaml", "socket: " + socket.string() + "\nalerts_file: " + alerts().string() +
                                                     "\nmode: " + mode + "\n");
    auto st = daemon_.start({KS_SENTRYD_BINARY, "--config", config.string()}, node_.dir() / "sentryd.log");
    ASSERT_TRUE(st) << st.error().describe();
    ASSERT_TRUE(daemon_.wait_for_log("serving on", 30s)) << read_text(daemon_.log());
    // The shims read their config when they start: from now on pods are watched, fail-closed.
    write_file(node_.shim_config(), "daemon_socket: " + socket.string() + "\ndaemon_policy: fail-closed\n");
  }
  fs::path alerts() const { return node_.dir() / "alerts.jsonl"; }
  std::vector<nlohmann::json> alert_lines(const std::string& rule) const {
    std::vector<nlohmann::json> out;
    std::istringstream lines(read_text(alerts()));
    for (std::string l; std::getline(lines, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && !j.value("audit", false) && j.value("rule", "") == rule) out.push_back(j);
    }
    return out;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- kata-sentryd log ---\n" << read_text(node_.dir() / "sentryd.log") << "\n";
    CriE2e::TearDown();
    node_.remove_all_pods();  // before the daemon: their shims unregister from it
    daemon_.stop();
  }
  Background daemon_;
};

TEST_P(CriSentrydE2e, PrivilegedAttackIsAlertedWithThePodsName) {
  const bool enforce = GetParam() == "enforce";
  ASSERT_NO_FATAL_FAILURE(start_daemon(GetParam()));
  cri::PodConfig pod = pod_config("attack", handler_);
  pod.privileged = true;
  // kubelet's pod uid (the API server's); containerd passes it to the shim as the annotation
  // io.kubernetes.cri.sandbox-uid.
  pod.uid = "0e7a4c1d-5b2f-4a8e-9c3d-" + std::string(enforce ? "e" : "m") + "00000000001";
  auto pod_id = client_->run_pod(pod);
  ASSERT_TRUE(pod_id) << pod_id.error().describe();
  cri::ContainerConfig c;
  c.name = "tool";
  c.image = kImage;
  c.command = {"sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 80 -h /www"};
  c.privileged = true;
  auto cid = client_->create_container(*pod_id, c, pod);
  ASSERT_TRUE(cid) << cid.error().describe();
  ASSERT_TRUE(client_->start_container(*cid));

  auto r = exec(*cid, {"sh", "-c", kCorePatternWrite});
  if (enforce) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(r.exit_code, 0) << "monitor mode blocks nothing: " << r.err;
  }
  std::vector<nlohmann::json> lines;
  for (int i = 0; i < 150 && (lines = alert_lines("Guest core_pattern write")).empty(); i++) std::this_thread::sleep_for(200ms);
  ASSERT_FALSE(lines.empty()) << read_text(alerts());
  const auto& a = lines.front();
  EXPECT_EQ(a["view"], "guest");
  EXPECT_EQ(a["output_fields"]["k8s.pod.name"], "attack") << a.dump();
  EXPECT_EQ(a["output_fields"]["k8s.ns.name"], "ks-e2e") << a.dump();
  EXPECT_EQ(a["output_fields"]["k8s.pod.uid"], pod.uid) << a.dump();
  EXPECT_EQ(a["output_fields"]["container.id"], *cid) << "the id containerd (and kubelet) know";
  EXPECT_EQ(a["enforced"], enforce);
  // Host deny (enforce: cgroup programs on the VMM's cgroup) guards the VMM's own sockets; the
  // pod's traffic goes through the tap and is untouched by it.
  auto status = client_->pod_status(*pod_id);
  ASSERT_TRUE(status);
  EXPECT_EQ(http_get_from_host(status->ip).out, "served\n") << "pod IP " << status->ip;
  if (enforce) EXPECT_NE(read_text(alerts()).find("deny rule(s) in host cgroup programs"), std::string::npos);

  EXPECT_TRUE(client_->stop_pod(*pod_id));
  EXPECT_TRUE(client_->remove_pod(*pod_id));
  for (int i = 0; i < 100 && !node_.containerd().shim_processes().empty(); i++) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(node_.containerd().shim_processes().empty()) << "shim left running";
  EXPECT_FALSE(fs::exists("/run/kata-sentry/sandboxes/" + *pod_id)) << "sandbox dir left behind";
}

INSTANTIATE_TEST_SUITE_P(Modes, CriSentrydE2e, ::testing::Values("monitor", "enforce"));

// Bad input fails the CRI call with the reason and leaves nothing: an unknown handler.
TEST_F(CriE2e, UnknownRuntimeHandlerIsRefused) {
  auto id = client_->run_pod(pod_config("bad", "nosuch-handler"));
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("nosuch-handler"), std::string::npos) << id.error().describe();
  auto pods = client_->list_pods();
  ASSERT_TRUE(pods);
  EXPECT_TRUE(pods->empty());
  EXPECT_TRUE(node_.containerd().shim_processes().empty());
}

// A pod whose limits no VM can have is refused by RunPodSandbox with the reason, before a VM
// boots, and nothing of it is left (CNI's address is released: the next pod gets one).
TEST_F(CriE2e, PodResourcesBeyondAnyVmAreRefused) {
  cri::PodConfig pod = pod_config("huge", handler_);
  pod.resources.memory_limit_bytes = 1ll << 50;  // 1 PiB
  auto id = client_->run_pod(pod);
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("pod resources: memory 1125899906842624 bytes"), std::string::npos)
      << id.error().describe();
  auto pods = client_->list_pods();
  ASSERT_TRUE(pods);
  EXPECT_TRUE(pods->empty());
  for (int i = 0; i < 100 && !node_.containerd().shim_processes().empty(); i++) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(node_.containerd().shim_processes().empty()) << "shim left running";
  auto containers = run(node_.ctr({"containers", "ls", "-q"}));
  EXPECT_EQ(containers.status, 0);
  EXPECT_EQ(containers.out, "") << "containers left";
  EXPECT_EQ(trim(run({"ip", "-o", "link", "show", "master", node_.bridge()}).out), "") << "a veth left on the bridge";
}

}  // namespace
}  // namespace kata_sentry::test_support
