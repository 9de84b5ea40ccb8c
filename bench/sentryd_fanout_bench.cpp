// kata-sentryd's fan-out to kata-trace subscribers: events/s delivered to each of 1, 4 and 16
// StreamEvents subscribers, without and with a server-side filter, against the engine's own
// rate on the same events (the default rules, one core). The real service and event hub over
// a real gRPC unix socket in one process; a publisher thread stands in for the monitors. One
// run; compare the rows with each other. The publisher never waits on a subscriber (a full
// queue drops and counts), but the subscribers' server threads share the CPUs with it: the
// published/s column is what fan-out costs the monitors on this machine.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/logging.h"
#include "exporters/audit_log.h"
#include "monitor/rules_path.h"
#include "sentryd.grpc.pb.h"
#include "sentryd/event_hub.h"
#include "sentryd/sandbox_registry.h"
#include "sentryd/sentryd_service.h"
#include "tests/support/event_builder.h"

using namespace kata_sentry;
using namespace std::chrono_literals;
using kata_sentry::testing::EventBuilder;

namespace {

constexpr auto kRun = 2s;

// 1 in 10 is the guest's cat: what the filtered subscribers ask for.
std::vector<Event> event_mix() {
  std::vector<Event> mix;
  for (int i = 0; i < 10; ++i) {
    Event e = i == 0 ? EventBuilder().exec("/bin/cat", {"/etc/hostname"}).guest().container("c1").build()
                     : EventBuilder().open("/var/www/index" + std::to_string(i) + ".html").name("nginx").guest().container("c1").build();
    e.sandbox_id = "sb-bench";
    mix.push_back(std::move(e));
  }
  return mix;
}

double engine_rate(const std::vector<Event>& mix) {
  auto dir = monitor::default_rules_dir();
  if (!dir) return -1;
  auto engine = monitor::load_engine({*dir}, policy::Mode::monitor);
  if (!engine) return -1;
  std::vector<policy::Alert> alerts;
  uint64_t n = 0;
  auto end = std::chrono::steady_clock::now() + kRun;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < end) {
    for (const auto& e : mix) {
      alerts.clear();
      (*engine)->process(e, alerts);
    }
    n += mix.size();
  }
  return double(n) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Row {
  double published_per_s = 0;
  double delivered_per_sub_per_s = 0;  // mean over subscribers
  uint64_t dropped = 0;                // all subscribers
};

Row fan_out(const std::string& socket, daemon::EventHub& hub, const std::vector<Event>& mix, int subscribers, const std::string& filter) {
  std::atomic<bool> stop{false};
  std::vector<std::atomic<uint64_t>> got(subscribers);
  std::vector<std::thread> readers;
  std::atomic<int> subscribed{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int i = 0; i < subscribers; ++i) contexts.push_back(std::make_unique<grpc::ClientContext>());
  for (int i = 0; i < subscribers; ++i) {
    readers.emplace_back([&, i] {
      auto stub = v1::Sentryd::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
      v1::StreamFilter f;
      f.set_any_view(true);
      f.set_condition(filter);
      auto reader = stub->StreamEvents(contexts[i].get(), f);
      reader->WaitForInitialMetadata();
      ++subscribed;
      v1::EventUpdate u;
      while (reader->Read(&u))
        if (u.has_event()) got[i].fetch_add(1, std::memory_order_relaxed);
      (void)reader->Finish();
    });
  }
  while (subscribed.load() < subscribers) std::this_thread::sleep_for(1ms);
  uint64_t published = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto end = t0 + kRun;
  while (std::chrono::steady_clock::now() < end) {
    for (const auto& e : mix) hub.publish(e, daemon::PodRef{"web", "shop"});
    published += mix.size();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Row row;
  for (const auto& s : hub.subscribers()) row.dropped += s.dropped;
  for (auto& c : contexts) c->TryCancel();
  for (auto& t : readers) t.join();
  // The next row starts with none of these subscriptions left in the hub.
  while (!hub.subscribers().empty()) std::this_thread::sleep_for(10ms);
  uint64_t total = 0;
  for (auto& g : got) total += g.load();
  row.published_per_s = double(published) / secs;
  row.delivered_per_sub_per_s = double(total) / subscribers / secs;
  return row;
}

}  // namespace

int main() {
  set_log_level("error");  // every overrun subscriber's closing warning is expected here
  auto dir = std::filesystem::temp_directory_path() / ("ks-fanout-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string socket = (dir / "sentryd.sock").string();
  daemon::DaemonConfig config;
  config.host_probes = false;
  // The registry's audit log, in the bench's directory: nothing alerts here (no sandbox is registered).
  exporters::AuditConfig audit;
  audit.dir = (dir / "audit").string();
  audit.key_file = (dir / "node.key").string();
  audit.min_free_bytes = 0;
  auto log = exporters::AuditLog::open(audit);
  if (!log) {
    std::fprintf(stderr, "sentryd_fanout_bench: %s\n", log.error().describe().c_str());
    return 1;
  }
  daemon::EventHub hub;
  daemon::SandboxRegistry registry(config, **log, hub, nullptr);
  std::atomic<bool> stopping{false};
  daemon::SentrydService service(registry, hub, stopping);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "bench: cannot serve on %s\n", socket.c_str());
    return 1;
  }

  auto mix = event_mix();
  double engine = engine_rate(mix);
  std::printf("kata-sentryd fan-out: %s per row, %u CPUs; one publisher thread stands in for the monitors\n",
              "2 s", std::thread::hardware_concurrency());
  std::printf("%-40s %14s %20s %10s %12s\n", "case", "published/s", "delivered/s/sub", "dropped", "vs engine");
  std::printf("%-40s %14.0f %20s %10s %12s\n", "engine alone (default rules, 1 thread)", engine, "-", "-", "1.00");
  for (const std::string filter : {"", "proc.name = cat"}) {
    for (int n : {1, 4, 16}) {
      Row r = fan_out(socket, hub, mix, n, filter);
      char name[64];
      std::snprintf(name, sizeof name, "%d subscriber(s), %s", n, filter.empty() ? "no filter" : "filter 1 in 10");
      std::printf("%-40s %14.0f %20.0f %10llu %12.2f\n", name, r.published_per_s, r.delivered_per_sub_per_s,
                  (unsigned long long)r.dropped, engine > 0 ? r.published_per_s / engine : 0.0);
    }
  }
  stopping = true;
  hub.close_all();
  server->Shutdown(std::chrono::system_clock::now() + 1s);
  std::filesystem::remove_all(dir);
  return 0;
}
