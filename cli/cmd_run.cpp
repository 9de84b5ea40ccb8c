// kata-sentry run: parses flags, builds the container's OCI spec, and hands over to
// runtime::run_container() (runtime/sandbox/run.h). Signals are turned into a flag by a
// dedicated thread; teardown happens in the main path.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "core/oci/oci_spec.h"
#include "monitor/container_enrichment.h"
#include "core/logging.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "cli/run_monitor.h"
#include "runtime/sandbox/oci_image.h"
#include "runtime/sandbox/run.h"
#include "sentryd/daemon_metrics.h"

namespace kata_sentry::cli {
namespace {

// Blocks SIGINT/SIGTERM/SIGHUP in every thread (call before any thread starts) and records the
// first one that arrives in `caught`.
class SignalCatcher {
 public:
  explicit SignalCatcher(std::atomic<int>* caught) : caught_(caught) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill us before teardown
    thread_ = std::thread([this] {
      timespec tick{0, 50'000'000};
      while (!stop_.load()) {
        int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig > 0 && caught_->load() == 0) caught_->store(sig);
      }
    });
  }
  ~SignalCatcher() {
    stop_ = true;
    thread_.join();
  }

 private:
  sigset_t set_;
  std::atomic<int>* caught_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int cmd_run(int argc, char** argv) {
  std::string rootfs, image, spec_path, id;
  int64_t memory_mb = 512, cpus = 1;
  bool privileged = false, interactive = false, verbose = false;
  std::string alerts_path, mode = "monitor", config_path, metrics_address;
  std::vector<std::string> rule_paths;
  FlagParser flags("kata-sentry run [flags] -- CMD ARG...",
                   "Boots a sandbox VM, runs CMD in a container inside it with stdio streamed, and exits with "
                   "the container's status (128+N for signal N). Everything is torn down afterwards, also on "
                   "Ctrl-C.");
  flags.add_string("rootfs", '\0', "DIR", "container root filesystem (default: the built-in busybox rootfs)", &rootfs);
  flags.add_string("image", '\0', "OCI-TAR", "container image: an OCI image-layout tarball (its Entrypoint/Cmd, Env and WorkingDir apply)", &image);
  flags.add_string("spec", '\0', "CONFIG.JSON",
                   "OCI runtime spec to use instead of the default one; CMD, if given, replaces process.args", &spec_path);
  flags.add_list("rules", 'r', "FILE|DIR", "rules file or directory (repeatable; default: the project's rules/)", &rule_paths);
  flags.add_string("alerts", '\0', "FILE", "append alerts and audit records to FILE as JSON lines (default: stderr)", &alerts_path);
  flags.add_string("config", '\0', "FILE",
                   "YAML with kata-sentryd's audit: and exporters: sections (the durable log and its sinks; default: a private "
                   "log for this run)",
                   &config_path);
  flags.add_choice("mode", {"monitor", "enforce"},
                   "monitor: report only; enforce: push deny rules to the guest LSM and carry out kill/kill_sandbox", &mode);
  flags.add_string("metrics", '\0', "HOST:PORT",
                   "serve Prometheus metrics (kata-sentryd's, for this run's sandbox) at http://HOST:PORT/metrics while it runs",
                   &metrics_address);
  flags.add_int("memory", 'm', "MB", "guest memory", &memory_mb);
  flags.add_int("cpus", 'c', "N", "guest vCPUs", &cpus);
  flags.add_string("id", '\0', "ID", "sandbox id (default: random)", &id);
  flags.add_bool("privileged", '\0', "all capabilities, no masked paths, no seccomp", &privileged);
  flags.add_bool("interactive", 'i', "stream stdin to the container", &interactive);
  flags.add_bool("verbose", 'v', "print the time of each phase and the sandbox's lifecycle", &verbose);
  flags.set_epilog("Examples:\n  kata-sentry run -- echo hello\n  echo hi | kata-sentry run -i -- cat\n"
                   "  kata-sentry run -v --memory 256 -- sh -c 'uname -r; exit 7'\n");
  std::vector<std::string> args = flags.parse(argc, argv, 2);

  if (!image.empty() && !rootfs.empty()) throw UsageError{"--image and --rootfs exclude each other"};
  if (memory_mb < 128 || memory_mb > 65536) throw UsageError{"--memory: must be between 128 and 65536 MB"};
  if (cpus < 1 || cpus > 64) throw UsageError{"--cpus: must be between 1 and 64"};

  runtime::RunRequest req;
  // The spec is checked before anything boots: a bad config.json costs no VM.
  if (!spec_path.empty()) {
    auto spec = load_oci_spec(spec_path);
    if (!spec) {
      std::fprintf(stderr, "kata-sentry run: %s\n", spec.error().describe().c_str());
      return 2;
    }
    req.spec = std::move(*spec);
    if (!args.empty()) req.spec.process.args = args;
  } else if (image.empty()) {
    if (args.empty()) throw UsageError{"missing CMD (usage: kata-sentry run [flags] -- CMD ARG...)"};
    req.spec = default_oci_spec(args, privileged);
  }
  // Unpacked before boot, so a bad tarball costs no VM; removed when this function returns.
  runtime::UnpackedImage unpacked;
  if (!image.empty()) {
    auto work = std::filesystem::path("/run/kata-sentry/images") / ("run-" + std::to_string(::getpid()));
    std::filesystem::create_directories(work.parent_path());
    auto u = runtime::UnpackedImage::unpack(image, work);
    if (!u) {
      std::fprintf(stderr, "kata-sentry run: %s\n", u.error().describe().c_str());
      return 2;
    }
    unpacked = std::move(*u);
    const auto& ic = unpacked.config();
    if (spec_path.empty()) {
      std::vector<std::string> command = args;
      if (command.empty()) {
        command = ic.entrypoint;
        command.insert(command.end(), ic.cmd.begin(), ic.cmd.end());
      }
      if (command.empty()) throw UsageError{"missing CMD: the image has no Entrypoint or Cmd"};
      req.spec = default_oci_spec(command, privileged);
      if (!ic.env.empty()) {
        req.spec.process.env = ic.env;
        req.spec.process.env.push_back("TERM=xterm");
      }
      if (!ic.working_dir.empty()) req.spec.process.cwd = ic.working_dir;
    }
    rootfs = unpacked.rootfs().string();
  }
  if (!rootfs.empty() && !std::filesystem::is_directory(rootfs)) throw UsageError{"--rootfs: " + rootfs + " is not a directory"};
  req.rootfs = rootfs;
  req.interactive = interactive;
  req.verbose = verbose;
  req.sandbox.id = id;
  req.sandbox.memory_mb = static_cast<int>(memory_mb);
  req.sandbox.cpus = static_cast<int>(cpus);
  if (verbose) set_log_level("info");

  // Rules and the alert output are checked before the VM boots.
  cli::RunMonitorConfig mcfg;
  mcfg.rule_paths = rule_paths;
  mcfg.mode = mode == "enforce" ? policy::Mode::enforce : policy::Mode::monitor;
  mcfg.alerts_path = alerts_path;
  if (!metrics_address.empty() && metrics_address.rfind(':') == std::string::npos)
    throw UsageError{"--metrics: want HOST:PORT, not '" + metrics_address + "'"};
  mcfg.metrics_address = metrics_address;
  if (!config_path.empty()) {
    auto pc = exporters::load_pipeline_config(config_path);
    if (!pc) {
      std::fprintf(stderr, "kata-sentry run: %s\n", pc.error().describe().c_str());
      return 2;
    }
    mcfg.pipeline = std::move(*pc);
  } else {
    mcfg.pipeline.audit.dir.clear();  // a private log for this run
  }
  mcfg.container = monitor::container_enrichment(req.spec, image);
  auto run_monitor = cli::RunMonitor::create(std::move(mcfg));
  if (!run_monitor) {
    std::fprintf(stderr, "kata-sentry run: %s\n", run_monitor.error().describe().c_str());
    return 125;
  }
  req.observer = run_monitor->get();
  if (auto* m = (*run_monitor)->metrics()) logger("runtime")->info("metrics on http://{}/metrics", m->address());

  std::atomic<int> caught{0};
  Result<int> status;
  {
    SignalCatcher catcher(&caught);
    status = runtime::run_container(req, caught);
  }
  if (!status) {
    std::fprintf(stderr, "kata-sentry run: %s\n", status.error().describe().c_str());
    return 125;  // like docker/podman: the runtime failed, not the container
  }
  return *status;
}

}  // namespace kata_sentry::cli
