// Policy engine throughput on one core: Falco's stable rules plus kata-sentry's defaults,
// on a realistic event mix, and the cost of an event type no rule watches. One run; the
// table's ratios compare the rows of this run.
#include <fcntl.h>
#include <sys/socket.h>

#include <time.h>

#include <cstdio>
#include <vector>

#include "policy-engine/engine.h"
#include "policy-engine/loader.h"
#include "tests/support/event_builder.h"
#include "bench/support/bench_figures.h"

using namespace kata_sentry;
using namespace kata_sentry::policy;
using kata_sentry::testing::EventBuilder;

namespace {

RuleSet load(const std::vector<std::string>& paths) {
  auto src = read_rule_sources(paths);
  if (!src) {
    std::fprintf(stderr, "bench: %s\n", src.error().describe().c_str());
    std::exit(1);
  }
  auto r = load_rules(*src);
  if (r.diagnostics.has_errors()) {
    for (const auto& d : r.diagnostics.items()) std::fprintf(stderr, "%s\n", d.to_text().c_str());
    std::exit(1);
  }
  return std::move(r.rules);
}

// What a node's probes see in a minute of a busy web pod: mostly file opens, then process
// and network activity; a few guest LSM events; rare security-relevant syscalls.
// `alerting` of every 200 events trigger a rule (a busy node alerts on well under 1%).
std::vector<Event> event_mix(int alerting) {
  std::vector<Event> mix;
  auto add = [&](int n, const Event& e) { mix.insert(mix.end(), n, e); };
  auto c = [] { return EventBuilder().guest().sandbox("sb1").container("c1").pid(300).name("nginx").exepath("/usr/sbin/nginx").parent("containerd-shim"); };
  add(50, c().open("/var/www/html/index.html"));
  add(16, c().open("/etc/ld.so.cache"));
  add(12, c().open("/var/log/nginx/access.log", O_WRONLY | O_APPEND));
  add(10, c().open("/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY, EventType::lsm_file_open).no_res());
  add(10, c().exec("/usr/bin/php-fpm", {"-F"}).parent("nginx", "/usr/sbin/nginx", "nginx -g daemon off;"));
  add(12, c().type(EventType::clone).args({301, 0x11}));
  add(12, c().type(EventType::procexit).res(0));
  add(16, c().connect("10.0.0.7", 5432));
  add(8, c().type(EventType::socket).args({AF_INET, SOCK_STREAM, 6}));
  add(8, c().type(EventType::accept).args({3, 0}).res(7));
  add(12, EventBuilder().host().sandbox("sb1").vmm(5000).pid(5000).name("qemu-system-x86_64").open("/dev/kvm", O_RDWR));
  add(4, c().type(EventType::unlinkat).path("/tmp/upload.tmp").args({0, 0}));
  add(2, c().type(EventType::ptrace).args({2, 310}));
  // Alerting events: a shell under nginx (Run shell untrusted), a setns by the workload.
  Event shell = c().exec("/bin/sh", {"-c", "date"}).parent("nginx", "/usr/sbin/nginx", "nginx -g daemon off;");
  Event setns = c().type(EventType::setns).args({5, 0});
  mix.resize(200 - alerting, mix.back());
  for (int i = 0; i < alerting; ++i) mix.push_back(i % 2 ? setns : shell);
  return mix;
}

struct Row {
  const char* name;
  double events_per_s;
  double ns_per_event;
  uint64_t alerts;
  double evals_per_event;
};

Row run(const char* name, Engine& engine, const std::vector<Event>& events, size_t total) {
  std::vector<Alert> alerts;
  alerts.reserve(64);
  uint64_t n_alerts = 0;
  auto before = engine.stats().rule_evaluations;
  // Thread CPU time: the machine is shared, and wall time would count other tenants' turns.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  double t0 = cpu_now();
  for (size_t i = 0; i < total; ++i) {
    alerts.clear();
    engine.process(events[i % events.size()], alerts);
    n_alerts += alerts.size();
  }
  double dt = cpu_now() - t0;
  double evals = static_cast<double>(engine.stats().rule_evaluations - before) / static_cast<double>(total);
  return {name, total / dt, dt * 1e9 / total, n_alerts, evals};
}

}  // namespace

int main() {
  RuleSet falco = load({KS_FALCO_RULES});
  RuleSet all = load({KS_FALCO_RULES, KS_DEFAULT_RULES_DIR});
  size_t rule_count = all.rules.size(), seq_count = all.sequences.size();
  Engine falco_engine(std::move(falco), {});
  Engine engine(std::move(all), {});
  auto mix = event_mix(2);        // 1% alerting
  auto noisy = event_mix(20);     // 10% alerting
  std::vector<Event> unwatched{EventBuilder().type(EventType::listen).args({3, 128}).name("nginx").container("c1").build()};

  constexpr size_t kEvents = 2'000'000;
  run("warm-up", engine, mix, 100'000);
  std::vector<Row> rows = {
      run("falco stable rules, realistic mix (1% alerting)", falco_engine, mix, kEvents),
      run("falco + kata-sentry rules, realistic mix", engine, mix, kEvents),
      run("falco + kata-sentry rules, 10% alerting", engine, noisy, kEvents),
      run("falco + kata-sentry rules, unwatched type (listen)", engine, unwatched, kEvents * 5),
  };
  std::printf("policy engine, one core (thread CPU time): %zu rules + %zu sequences loaded; %zu events per row (x5 for unwatched)\n",
              rule_count, seq_count, kEvents);
  std::printf("%-52s %14s %10s %10s %12s %10s\n", "case", "events/s", "ns/event", "alerts", "evals/event", "M ev/s");
  for (const auto& r : rows)
    std::printf("%-52s %14.0f %10.1f %10llu %12.2f %9.2fx\n", r.name, r.events_per_s, r.ns_per_event,
                static_cast<unsigned long long>(r.alerts), r.evals_per_event, r.events_per_s / 1e6);
  kata_sentry::bench::record_figure("engine_realistic_mev_per_s", rows[1].events_per_s / 1e6);
  return 0;
}
