// audit_burst CONFIG COUNT: runs the audit log and the exporters CONFIG (a YAML file with
// `audit:` and `exporters:`, as `kata-sentry run --config` reads it) and appends COUNT records
// {"n":i} as fast as it can (group commit), printing "durable <seq>" each time the acknowledged
// sequence moves, so that a test can kill -9 it mid-burst and know what had been acknowledged.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "exporters/pipeline.h"

using namespace kata_sentry::exporters;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: audit_burst CONFIG COUNT\n");
    return 2;
  }
  auto config = load_pipeline_config(argv[1]);
  if (!config) {
    std::fprintf(stderr, "audit_burst: %s\n", config.error().describe().c_str());
    return 2;
  }
  uint64_t count = std::strtoull(argv[2], nullptr, 10);
  auto pipeline = Pipeline::start(*config);
  if (!pipeline) {
    std::fprintf(stderr, "audit_burst: %s\n", pipeline.error().describe().c_str());
    return 1;
  }
  AuditLog& log = (*pipeline)->log();
  std::printf("opened at %llu\n", static_cast<unsigned long long>(log.durable_seq()));
  std::fflush(stdout);
  std::thread watcher([&] {
    uint64_t seen = 0;
    for (;;) {
      uint64_t d = log.wait_beyond(seen, std::chrono::milliseconds(100));
      if (d > seen) {
        seen = d;
        std::printf("durable %llu\n", static_cast<unsigned long long>(d));
        std::fflush(stdout);
      }
    }
  });
  for (uint64_t i = 0; i < count; ++i) {
    auto seq = log.append(RecordKind::alert, R"({"rule":"burst","priority":"Warning","n":)" + std::to_string(i) + "}");
    if (!seq) {
      std::fprintf(stderr, "audit_burst: %s\n", seq.error().describe().c_str());
      return 1;
    }
  }
  (void)log.wait_durable(log.stats().last_seq);
  std::printf("done\n");
  std::fflush(stdout);
  std::_Exit(0);
}
