// Cold `kata-sentry run -- true`, phase by phase (median of N runs, each a fresh sandbox), plus
// the resident memory of QEMU (host) and of the agent (guest PID 1). Measured through the same
// library calls as `kata-sentry run`. On hosts without usable KVM this is TCG: the table says so.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/oci/oci_spec.h"
#include "runtime/sandbox/sandbox.h"
#include "bench/support/bench_figures.h"

namespace ks = kata_sentry;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// "VmRSS:   12345 kB" -> 12345
long status_kb(const std::string& status_text, const std::string& key) {
  auto pos = status_text.find(key + ":");
  if (pos == std::string::npos) return -1;
  return std::strtol(status_text.c_str() + pos + key.size() + 1, nullptr, 10);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

struct Series {
  std::map<std::string, std::vector<double>> at;
  std::vector<double> qemu_rss, qemu_rss_anon, qemu_pss, agent_rss, agent_rss_anon, agent_rss_file, agent_rss_shmem;
};

const char* kPhases[] = {"vm started (QMP up)", "agent ready", "container started", "container exited", "torn down"};

// One cold run into `s`; false on failure.
bool run_once(Series& s, std::string& accel) {
  auto t0 = Clock::now();
  auto sb = ks::runtime::Sandbox::create({});
  if (!sb) {
    std::fprintf(stderr, "vm_run_bench: %s\n", sb.error().describe().c_str());
    return false;
  }
  auto& box = **sb;
  accel = ks::vm::accelerator_name(box.vm().accelerator());
  s.at[kPhases[0]].push_back(box.timings().vm_started.count());
  s.at[kPhases[1]].push_back(box.timings().agent_ready.count());
  auto spec = ks::default_oci_spec({"true"}, false);
  if (auto st = box.create_container("bench", spec, "", false); !st) {
    std::fprintf(stderr, "vm_run_bench: %s\n", st.error().describe().c_str());
    return false;
  }
  if (auto st = box.agent().start_container("bench"); !st) return false;
  s.at[kPhases[2]].push_back(ms_since(t0));
  auto waited = box.agent().wait_process("bench", "");
  if (!waited) return false;
  s.at[kPhases[3]].push_back(ms_since(t0));

  // The agent's RSS: a container that shares the agent's pid namespace reads /proc/1/status.
  auto probe = ks::default_oci_spec({"grep", "-E", "VmRSS|RssAnon|RssFile|RssShmem", "/proc/1/status"}, true);
  std::erase_if(probe.linux.namespaces, [](const auto& n) { return n.type == "pid"; });
  if (box.create_container("rss", probe, "", false) && box.agent().start_container("rss")) {
    std::string out;
    (void)box.agent().read_output("rss", "", [&](std::string_view d) { out.append(d); }, [](std::string_view) {});
    (void)box.agent().wait_process("rss", "");
    s.agent_rss.push_back(status_kb(out, "VmRSS"));
    s.agent_rss_anon.push_back(status_kb(out, "RssAnon"));
    s.agent_rss_file.push_back(status_kb(out, "RssFile"));
    s.agent_rss_shmem.push_back(status_kb(out, "RssShmem"));
  }
  auto qs = read_all("/proc/" + std::to_string(box.vm().qemu_pid()) + "/status");
  s.qemu_rss.push_back(status_kb(qs, "VmRSS"));
  s.qemu_rss_anon.push_back(status_kb(qs, "RssAnon"));
  s.qemu_pss.push_back(status_kb(read_all("/proc/" + std::to_string(box.vm().qemu_pid()) + "/smaps_rollup"), "Pss"));
  auto t_down = Clock::now();
  (void)box.destroy();
  s.at[kPhases[4]].push_back(s.at[kPhases[3]].back() + ms_since(t_down));
  sb->reset();
  return true;
}

// One whole process, as a user would time it: wall and CPU seconds and the peak RSS of the
// largest process in its tree (wait4's ru_maxrss), output discarded.
struct WholeRun {
  double wall_s = 0, cpu_s = 0, peak_rss_mib = 0;
};

std::optional<WholeRun> time_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  auto t0 = Clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    std::fprintf(stderr, "vm_run_bench: cannot start %s: %s\n", args[0], std::strerror(rc));
    return std::nullopt;
  }
  int status = 0;
  rusage ru{};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "vm_run_bench: %s did not exit 0 (status %#x)\n", args[0], status);
    return std::nullopt;
  }
  WholeRun r;
  r.wall_s = ms_since(t0) / 1000;
  r.cpu_s = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  r.peak_rss_mib = ru.ru_maxrss / 1024.0;
  return r;
}

void print(const char* title, Series& s) {
  if (*title) std::printf("  %s\n", title);
  std::printf("  %-24s %10s %10s\n", "phase (since start)", "median ms", "max ms");
  for (const char* p : kPhases) {
    auto& v = s.at[p];
    std::printf("  %-24s %10.0f %10.0f\n", p, median(v), *std::max_element(v.begin(), v.end()));
  }
  std::printf("  QEMU RSS                 %7.1f MiB (anon %.1f MiB; the rest is shared guest memory touched)\n",
              median(s.qemu_rss) / 1024, median(s.qemu_rss_anon) / 1024);
  std::printf("  QEMU PSS                 %7.1f MiB (scripts/pss-breakdown.sh splits it)\n", median(s.qemu_pss) / 1024);
  // The guest's root is a tmpfs (agent/init: switch_root copies the initramfs into one), so the
  // agent's binary and libraries count as shmem, as do mapped BPF ring buffers.
  std::printf("  agent RSS (guest PID 1)  %7.1f MiB (anon %.1f, file %.1f, shmem %.1f: files on the tmpfs root, the"
              " binary's included, and mapped BPF ring buffers)\n",
              median(s.agent_rss) / 1024, median(s.agent_rss_anon) / 1024, median(s.agent_rss_file) / 1024,
              median(s.agent_rss_shmem) / 1024);
}

}  // namespace

// vm_run_bench [RUNS] [ab]: with "ab", runs alternate between the guest sensor loaded before
// the agent serves (ks.sensor=sync, the old critical path) and in the background (default),
// so that both see the same machine load.
int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    ks::bench::fail_unmeasured("vm_run_bench", "needs root (boots guests)");
  }
  int runs = argc > 1 ? std::atoi(argv[1]) : 5;
  bool ab = argc > 2 && std::string(argv[2]) == "ab";
  Series background, sync;
  std::string accel;
  for (int i = 0; i < runs; ++i) {
    if (ab) {
      ::setenv("KATA_SENTRY_KERNEL_PARAMS", "ks.sensor=sync", 1);
      bool ok = run_once(sync, accel);
      ::unsetenv("KATA_SENTRY_KERNEL_PARAMS");
      if (!ok) return 1;
    }
    if (!run_once(background, accel)) return 1;
  }
  // Whole processes, pair by pair, against the peer a user would pick on a host without KVM.
  const std::string kata_sentry = (std::filesystem::canonical("/proc/self/exe").parent_path() / "../bin/kata-sentry").string();
  std::vector<double> ours_wall, ours_cpu, ours_rss, runsc_wall, runsc_cpu, runsc_rss;
  for (int i = 0; i < runs; ++i) {
    auto ours = time_process({kata_sentry, "run", "--", "true"});
    auto peer = time_process({"/usr/bin/runsc", "--platform=ptrace", "--network=none", "do", "/bin/true"});
    if (!ours || !peer) return 1;
    ours_wall.push_back(ours->wall_s), ours_cpu.push_back(ours->cpu_s), ours_rss.push_back(ours->peak_rss_mib);
    runsc_wall.push_back(peer->wall_s), runsc_cpu.push_back(peer->cpu_s), runsc_rss.push_back(peer->peak_rss_mib);
  }

  std::printf("cold `kata-sentry run -- true`: median of %d runs, accelerator %s%s\n", runs, accel.c_str(),
              accel == "tcg" ? " (TCG software emulation: no usable KVM on this host; KVM is far faster)" : "");
  if (ab) print("guest sensor loaded before serving (ks.sensor=sync):", sync);
  print(ab ? "guest sensor loaded in the background (default):" : "", background);
  std::printf("  whole process, median of %d pairs:  %-28s %8s %8s %10s\n", runs, "", "wall s", "CPU s", "peak RSS");
  std::printf("    %-58s %8.2f %8.2f %6.0f MiB\n", "kata-sentry run -- true", median(ours_wall), median(ours_cpu),
              median(ours_rss));
  std::printf("    %-58s %8.2f %8.2f %6.0f MiB\n", "runsc --platform=ptrace --network=none do /bin/true",
              median(runsc_wall), median(runsc_cpu), median(runsc_rss));
  std::printf("    ratio (wall)                                               %7.1fx\n", median(ours_wall) / median(runsc_wall));
  ks::bench::record_figure("run_true_whole_s", median(ours_wall));
  ks::bench::record_figure("run_true_vs_runsc_ratio", median(ours_wall) / median(runsc_wall));
  ks::bench::record_figure("run_true_container_started_s", median(background.at[kPhases[2]]) / 1000);
  ks::bench::record_figure("run_true_torn_down_s", median(background.at[kPhases[4]]) / 1000);
  if (!background.qemu_pss.empty()) ks::bench::record_figure("qemu_pss_mib", median(background.qemu_pss) / 1024);
  if (!background.agent_rss.empty()) ks::bench::record_figure("agent_rss_mib", median(background.agent_rss) / 1024);
  return 0;
}
