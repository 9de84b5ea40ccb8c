// Container launch latency on the host (root): how much the launcher adds over a bare
// fork+exec of the same binary. One run, medians of N iterations, ratios against the baseline.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "agent/container/container.h"
#include "bench/support/bench_figures.h"

namespace fs = std::filesystem;
using namespace kata_sentry;
using namespace kata_sentry::agent;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kIterations = 30;

struct Row {
  std::string name;
  double median_ms = 0, p90_ms = 0;
};

Row measure(const std::string& name, const std::function<bool()>& once) {
  std::vector<double> ms;
  for (int i = 0; i < kIterations; ++i) {
    auto t0 = Clock::now();
    if (!once()) return {name + " (FAILED)", 0, 0};
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {name, ms[ms.size() / 2], ms[ms.size() * 9 / 10]};
}

fs::path make_rootfs(const fs::path& bundle) {
  fs::path root = bundle / "rootfs";
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp"}) fs::create_directories(root / d);
  fs::copy_file("/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* applet : {"true", "sleep", "sh"}) fs::create_symlink("busybox", root / "bin" / applet);
  return root;
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    kata_sentry::bench::fail_unmeasured("container_bench", "needs root (namespaces, mounts)");
  }
  const std::string tag = std::to_string(::getpid());
  const fs::path bundle = fs::temp_directory_path() / ("ks-bench-bundle-" + tag);
  make_rootfs(bundle);
  // cgroup2 lives at /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on the guest.
  fs::path cg_root = fs::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
  const fs::path cg_parent = cg_root / ("ks-bench-" + tag);
  int counter = 0;
  auto launch = [&](const OciSpec& spec) {
    LaunchOptions o{"b" + std::to_string(counter++), bundle, cg_parent, {}};
    auto c = create_container(spec, o);
    if (!c) {
      std::fprintf(stderr, "%s\n", c.error().describe().c_str());
      return false;
    }
    auto st = (*c)->wait();
    return st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0;
  };

  std::vector<Row> rows;
  rows.push_back(measure("fork+exec busybox true (baseline)", [&] {
    pid_t pid;
    char* argv[] = {const_cast<char*>("true"), nullptr};
    std::string bin = (bundle / "rootfs/bin/busybox").string();
    if (posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv, environ) != 0) return false;
    int st = 0;
    return ::waitpid(pid, &st, 0) == pid && st == 0;
  }));
  OciSpec privileged = default_oci_spec({"true"}, true);
  rows.push_back(measure("container true, privileged (no seccomp/masks)", [&] { return launch(privileged); }));
  OciSpec confined = default_oci_spec({"true"}, false);
  rows.push_back(measure("container true, default (seccomp, masks, caps)", [&] { return launch(confined); }));
  {
    OciSpec sleeper = default_oci_spec({"sleep", "1000"}, false);
    auto c = create_container(sleeper, LaunchOptions{"bexec", bundle, cg_parent, {}});
    if (c) {
      OciProcess p = sleeper.process;
      p.args = {"true"};
      rows.push_back(measure("exec true into a running container", [&] {
        auto e = (*c)->exec(p, {});
        if (!e) return false;
        auto st = (*e)->wait();
        return st && *st == 0;
      }));
    }
  }
  fs::remove_all(bundle);
  ::rmdir(cg_parent.c_str());

  std::printf("Container launch latency, %d iterations each, host %s\n", kIterations, "(root)");
  std::printf("%-48s %10s %10s %8s\n", "case", "median ms", "p90 ms", "ratio");
  for (const auto& r : rows)
    std::printf("%-48s %10.2f %10.2f %7.1fx\n", r.name.c_str(), r.median_ms, r.p90_ms,
                rows[0].median_ms > 0 ? r.median_ms / rows[0].median_ms : 0.0);
  return 0;
}
