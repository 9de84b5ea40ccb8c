// A pod through containerd's CRI plugin, kata-sentry vs runc, on the same node (tests/support/
// cri_node.h: private containerd, CNI bridge): pod start (RunPodSandbox -> CreateContainer ->
// StartContainer returned, i.e. the container running), median of 5 each; and pod -> host TCP
// throughput (HTTP GET of a 32 MiB file from busybox httpd in the pod's /dev/shm, by curl on the
// host; kata-sentry's bytes cross virtio-net, the tap and the tc redirects), median of 3. Ratios
// from this one run. On hosts without usable KVM the VM runs under TCG: the table says so.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/cri_node.h"

namespace ks = kata_sentry;
namespace ts = kata_sentry::test_support;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kImage = "docker.io/kata-sentry/busybox:latest";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

// Thrown, not exit(): the CRI node's destructor must remove the pods, containerd and the bridge
// (a leaked containerd would also keep holding the caller's VM lock, which its children inherit).
[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }

struct Started {
  std::string pod, container;
  double ms = 0;
};

Started start_pod(ks::cri::CriClient& c, const std::string& name, const std::string& handler, const std::vector<std::string>& cmd,
                  const std::filesystem::path& logs) {
  ks::cri::PodConfig p;
  p.name = name;
  p.ns = "ks-bench";
  p.runtime_handler = handler;
  p.cgroup_parent = ts::CriNode::cgroup_parent();
  p.log_directory = (logs / name).string();
  std::filesystem::create_directories(p.log_directory);
  ks::cri::ContainerConfig cc;
  cc.name = "c";
  cc.image = kImage;
  cc.command = cmd;
  cc.log_path = "c.log";
  auto t0 = Clock::now();
  auto pod = c.run_pod(p);
  if (!pod) die(pod.error().describe());
  auto cid = c.create_container(*pod, cc, p);
  if (!cid) die(cid.error().describe());
  if (auto st = c.start_container(*cid); !st) die(st.error().describe());
  return {*pod, *cid, std::chrono::duration<double, std::milli>(Clock::now() - t0).count()};
}

void remove_pod(ks::cri::CriClient& c, const std::string& pod) {
  if (auto st = c.stop_pod(pod); !st) die(st.error().describe());
  if (auto st = c.remove_pod(pod); !st) die(st.error().describe());
}

// bytes/s of one GET, from curl's own size and time.
double download_rate(const std::string& url) {
  for (int i = 0; i < 60; i++) {
    auto r = ts::run({"curl", "-s", "-f", "--noproxy", "*", "-m", "120", "-o", "/dev/null", "-w", "%{size_download} %{time_total}",
                      url},
                     "", false, std::chrono::seconds(150));
    double bytes = 0, secs = 0;
    std::istringstream(r.out) >> bytes >> secs;
    if (r.status == 0 && bytes >= (32 << 20) && secs > 0) return bytes / secs;
    usleep(500000);  // httpd not up yet
  }
  die("GET " + url + " never succeeded");
}

}  // namespace

int run_bench() {
  if (::geteuid() != 0) die("needs root (containerd, CNI, QEMU)");
  ts::CriNode node;
  if (auto st = node.start({KS_BIN_DIR, KS_SOURCE_DIR, {KS_BUSYBOX_OCI, KS_PAUSE_OCI}, "docker.io/kata-sentry/pause:latest"}); !st)
    die(st.error().describe());
  auto& c = node.client();
  const std::string kata = ts::CriNode::runtime_class_handler(KS_SOURCE_DIR);

  struct Row {
    const char* name;
    std::string handler;
    std::vector<double> start_ms, rate;
  } rows[] = {{"runc", ""}, {"kata-sentry", kata}};
  const std::vector<std::string> sleeper = {"sleep", "3600"};
  const std::vector<std::string> server = {
      "sh", "-c", "mkdir /dev/shm/www && dd if=/dev/zero of=/dev/shm/www/f bs=1M count=32 2>/dev/null && exec httpd -f -p 80 -h /dev/shm/www"};
  for (auto& row : rows) {
    for (int i = 0; i < 5; i++) {
      auto s = start_pod(c, std::string("start-") + row.name + "-" + std::to_string(i), row.handler, sleeper, node.dir() / "logs");
      row.start_ms.push_back(s.ms);
      remove_pod(c, s.pod);
    }
    auto s = start_pod(c, std::string("tcp-") + row.name, row.handler, server, node.dir() / "logs");
    auto status = c.pod_status(s.pod);
    if (!status) die(status.error().describe());
    for (int i = 0; i < 3; i++) row.rate.push_back(download_rate("http://" + status->ip + "/f"));
    remove_pod(c, s.pod);
  }
  const double start_ratio = median(rows[1].start_ms) / median(rows[0].start_ms);
  const double rate_ratio = median(rows[1].rate) / median(rows[0].rate);
  std::printf("CRI pods through containerd's CRI plugin on a CNI bridge; the kata-sentry VM runs under the\n"
              "launcher's accelerator (TCG where KVM is unusable, as on the CI machine kind)\n");
  std::printf("%-12s %22s %26s\n", "runtime", "pod start ms (med of 5)", "pod->host MiB/s (med of 3)");
  for (const auto& row : rows)
    std::printf("%-12s %22.0f %26.1f\n", row.name, median(row.start_ms), median(row.rate) / (1 << 20));
  std::printf("ratio kata-sentry/runc: pod start %.1fx, throughput %.3fx\n", start_ratio, rate_ratio);
  return 0;
}

int main() {
  try {
    return run_bench();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cri_pod_bench: %s\n", e.what());
    return 1;
  }
}
