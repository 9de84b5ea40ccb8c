// kata-sentryd: the node daemon. Loads its config and rules (any error stops it before it
// serves), opens the alerts file, serves the API on a root-only unix socket, and on SIGTERM
// or SIGINT stops every sandbox's monitor and removes its socket.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <iostream>

#include <grpcpp/grpcpp.h>

#include "core/logging.h"
#include "core/flags.h"
#include "exporters/pipeline.h"
#include "sentryd/daemon_config.h"
#include "sentryd/daemon_metrics.h"
#include "sentryd/event_hub.h"
#include "monitor/host_probe_hub.h"
#include "sentryd/root_only_listener.h"
#include "sentryd/sandbox_registry.h"
#include "sentryd/sentryd_service.h"
#include "monitor/rules_path.h"

namespace kata_sentry::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kEpilog = R"(Configuration (YAML; every key optional, unknown keys are errors):
  socket                   API socket, mode 0600, root peers only   [/run/kata-sentry/sentryd.sock]
  alerts_file              a file exporter: Falco JSON lines        [/var/log/kata-sentry/alerts.jsonl]
  audit:                   the durable audit log (hash chain, signed checkpoints, fsync)
    dir, key_file, fsync (always | interval:<ms>), segment_bytes, checkpoint_records,
    checkpoint_seconds, events, max_bytes, max_age_seconds, max_disk_percent,
    disk_full (block | drop_oldest | stop_sandboxes), min_free_bytes, max_pending_bytes
                                                                    [/var/lib/kata-sentry/audit, interval:20]
  exporters:               a list of sinks, each a cursor over the audit log (at-least-once):
    - type: file | console | syslog | nats | kafka | http, name, min_priority, views, tags,
      records (alerts, audit, events), and the type's keys (deploy/config/sentryd.yaml)
  rules                    rule files or directories                [the default rules]
  mode                     monitor | enforce                        [monitor]
  host_probes              watch each sandbox's VMM with host BPF   [true]
  guest_events_per_second  per-sandbox limit on guest events        [20000]
  guest_burst              burst allowance for that limit           [40000]
  heartbeat_timeout_ms     guest silence before a tamper alert      [3000]
  log_level                debug | info | warn | error              [info]
  metrics_address          Prometheus /metrics host:port; "" = off   [127.0.0.1:9464]
  metrics_max_sandboxes    per-sandbox series at most (the rest: node-wide only) [64]

Shims (containerd-shim-kata-sentry-v2) register their sandboxes here and relay the guest's
events; a shim configured fail-closed refuses to start pods while this daemon is down.
See deploy/ for the systemd unit, config files and the Kubernetes RuntimeClass.

Examples:
  kata-sentryd --config deploy/config/sentryd.yaml
  kata-sentryd --check --config /etc/kata-sentry/sentryd.yaml   # validate config and rules, then exit)";

int run(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  cli::FlagParser p("kata-sentryd [flags]",
                    "The kata-sentry node daemon: host probes, policy engine and alerts for every sandbox on this node.");
  p.add_string("config", 'c', "FILE", std::string("config file (default ") + kDefaultConfigPath + ", used if it exists)", &config_path);
  p.add_bool("check", '\0', "validate the config and the rules, then exit", &check_only);
  p.set_epilog(kEpilog);
  try {
    auto rest = p.parse(argc, argv);
    if (!rest.empty()) throw cli::UsageError{"unexpected argument '" + rest[0] + "'"};
  } catch (const cli::UsageError& e) {
    std::cerr << "kata-sentryd: " << e.message << "\n";
    return 2;
  } catch (const cli::HelpShown&) {
    return 0;
  }

  auto config = load_daemon_config(config_path);
  if (!config) {
    std::cerr << "kata-sentryd: " << config.error().describe() << "\n";
    return 2;
  }
  set_log_level(config->log_level);
  auto log = logger("sentryd");
  if (config->rules.empty()) {
    auto dir = monitor::default_rules_dir();
    if (!dir) {
      std::cerr << "kata-sentryd: " << dir.error().describe() << "\n";
      return 1;
    }
    config->rules.push_back(*dir);
  }
  // Every sandbox gets its own engine from these files; loading them once here means a bad
  // rule stops the daemon at start, not a pod later.
  auto engine = monitor::load_engine(config->rules, config->mode);
  if (!engine) {
    std::cerr << "kata-sentryd: " << engine.error().describe() << "\n";
    return 1;
  }
  log->info("rules loaded from {} path(s); {} mode", config->rules.size(), config->mode == policy::Mode::enforce ? "enforce" : "monitor");
  if (check_only) {
    for (const auto& sink : config->pipeline.sinks)
      if (auto built = exporters::build_sink(sink); !built) {
        std::cerr << "kata-sentryd: exporter '" << sink.name << "': " << built.error().describe() << "\n";
        return 2;
      }
    std::cout << "kata-sentryd: config and rules are valid\n";
    return 0;
  }
  std::unique_ptr<monitor::HostProbeHub> probes;
  if (config->host_probes) {
    auto opened = monitor::HostProbeHub::open();
    if (!opened) {
      std::cerr << "kata-sentryd: host probes: " << opened.error().describe() << " (or set host_probes: false)\n";
      return 1;
    }
    probes = std::move(*opened);
  }

  // The audit log first: no sandbox is watched unless its findings can be recorded.
  std::atomic<SandboxRegistry*> registry_for_hook{nullptr};
  exporters::AuditLogHooks log_hooks;
  log_hooks.stop_sandboxes = [&registry_for_hook] {
    if (auto* r = registry_for_hook.load()) r->stop_all_vms("the audit log's disk is full (disk_full: stop_sandboxes)");
  };
  auto pipeline = exporters::Pipeline::start(config->pipeline, log_hooks);
  if (!pipeline) {
    std::cerr << "kata-sentryd: " << pipeline.error().describe() << "\n";
    return 1;
  }
  log->info("audit log {} (fsync {}), {} exporter(s)", config->pipeline.audit.dir, exporters::fsync_text(config->pipeline.audit),
            config->pipeline.sinks.size());

  // Only the signal thread takes the stop signals.
  sigset_t stop_sigs;
  sigemptyset(&stop_sigs);
  sigaddset(&stop_sigs, SIGTERM);
  sigaddset(&stop_sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto listener = RootOnlyListener::bind(config->socket);
  if (!listener) {
    std::cerr << "kata-sentryd: " << listener.error().describe() << "\n";
    return 1;
  }
  std::unique_ptr<DaemonMetrics> metrics;
  if (!config->metrics_address.empty()) {
    MetricsOptions mo;
    mo.address = config->metrics_address;
    mo.max_sandbox_series = config->metrics_max_sandboxes;
    mo.mode = config->mode == policy::Mode::enforce ? "enforce" : "monitor";
    auto started = DaemonMetrics::start(mo);
    if (!started) {
      std::cerr << "kata-sentryd: " << started.error().describe() << " (set metrics_address in the config, or \"\" for none)\n";
      return 1;
    }
    metrics = std::move(*started);
    metrics->declare_rules((*engine)->rules());
  }
  EventHub hub;
  SandboxRegistry registry(*config, (*pipeline)->log(), hub, probes.get(), metrics.get());
  registry_for_hook = &registry;
  if (metrics) {
    MetricsSources sources;
    sources.sandboxes = [&registry] { return registry.list(); };
    sources.hub = &hub;
    sources.sinks = [p = pipeline->get()] { return p->sink_stats(); };
    sources.audit_log = [p = pipeline->get()] { return p->log().stats(); };
    if (probes)
      sources.host_probes = [p = probes.get()] { return std::optional(p->stats()); };
    metrics->set_sources(std::move(sources));
    log->info("metrics on http://{}/metrics", metrics->address());
  }
  std::atomic<bool> stopping{false};
  SentrydService service(registry, hub, stopping);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(8 << 20);  // a guest batch, relayed
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "kata-sentryd: could not start the gRPC server\n";
    return 1;
  }
  (*listener)->serve(*server);
  log->info("kata-sentryd: serving on {}", config->socket);

  int sig = 0;
  sigwait(&stop_sigs, &sig);
  log->info("signal {}: stopping", sig);
  stopping = true;
  (*listener)->stop();
  hub.close_all();
  registry.shutdown();
  if (metrics) metrics->set_sources({});  // the registry goes before the metrics server
  server->Shutdown(std::chrono::system_clock::now() + 2s);
  registry_for_hook = nullptr;
  (*pipeline)->stop();
  log->info("kata-sentryd: stopped");
  return 0;
}

}  // namespace
}  // namespace kata_sentry::daemon

int main(int argc, char** argv) { return kata_sentry::daemon::run(argc, argv); }
