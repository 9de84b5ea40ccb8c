// `kata-sentry trace`: live host events from the host probes (host-probes/trace.h).
#include <signal.h>

#include <atomic>
#include <cstdio>

#include "host-probes/trace.h"
#include "cli/commands.h"
#include "core/flags.h"

namespace kata_sentry::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

}  // namespace

int cmd_trace(int argc, char** argv) {
  int64_t pid = 0;
  int64_t duration = 0;
  std::string cgroup, comm, format = "json";
  FlagParser flags("kata-sentry trace [flags]",
                   "Print live host events (exec, files, network, namespaces, modules, bpf, kill) from eBPF\n"
                   "probes on syscall and scheduler tracepoints. Needs root.");
  flags.add_int("pid", 'p', "PID", "trace only this process and its descendants (scoped in the kernel)", &pid);
  flags.add_string("cgroup", 'c', "PATH", "trace only this cgroup v2 directory and the cgroups below it", &cgroup);
  flags.add_string("comm", '\0', "NAME", "print only events whose proc.name is NAME", &comm);
  flags.add_int("duration", 'd', "SECONDS", "stop after this many seconds (default: until Ctrl-C)", &duration);
  flags.add_choice("format", {"json", "text"}, "json: one object per line, keyed by Falco field names", &format);
  flags.set_epilog("Examples:\n  kata-sentry trace --format text --duration 5\n"
                   "  kata-sentry trace --pid 1234\n  kata-sentry trace --cgroup /sys/fs/cgroup/unified/mypod\n");
  auto rest = flags.parse(argc, argv, 2);
  if (!rest.empty()) throw UsageError{"unexpected argument \"" + rest.front() + "\""};
  if (pid < 0 || pid > 4194304) throw UsageError{"--pid must be a process id, not " + std::to_string(pid)};
  if (duration < 0) throw UsageError{"--duration must not be negative"};

  probes::TraceOptions options;
  options.pid = static_cast<uint32_t>(pid);
  options.cgroup = cgroup;
  options.comm = comm;
  options.duration_s = static_cast<double>(duration);
  options.json = format == "json";

  // No SA_RESTART: the signal must interrupt the ring-buffer poll.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  auto summary = probes::run_trace(options, stdout, g_stop);
  if (!summary) {
    std::fprintf(stderr, "kata-sentry trace: %s\n", summary.error().describe().c_str());
    return 1;
  }
  std::fprintf(stderr, "kata-sentry trace: %s\n", probes::format_summary(*summary).c_str());
  return 0;
}

}  // namespace kata_sentry::cli
