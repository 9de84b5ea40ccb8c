// The figures a benchmark measured, for `make bench`'s one summary table.
//
// scripts/run-bench.sh points KS_BENCH_FIGURES at a JSON-lines file and, after every benchmark
// ran, hands it to bench_summary, which sets each figure against its goal (bench/summary/goals.h).
// A benchmark records only what it measured; one that could not measure exits non-zero through
// fail_unmeasured() so the summary shows "not measured" rather than a number nobody took.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kata_sentry::bench {

// Appends {"id":…,"value":…} to $KS_BENCH_FIGURES; a no-op when a benchmark runs by hand.
inline void record_figure(std::string_view id, double value) {
  const char* path = std::getenv("KS_BENCH_FIGURES");
  if (!path || !*path) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "{\"id\":\"%.*s\",\"value\":%.6g}\n", static_cast<int>(id.size()), id.data(), value);
    std::fclose(f);
  } else {
    std::fprintf(stderr, "bench: cannot append to %s (KS_BENCH_FIGURES)\n", path);
  }
}

// A measurement could not be taken (not root, no samples, a boot failed): say why, exit 2.
[[noreturn]] inline void fail_unmeasured(std::string_view bench, std::string_view why) {
  std::fprintf(stderr, "%.*s: NOT MEASURED: %.*s\n", static_cast<int>(bench.size()), bench.data(),
               static_cast<int>(why.size()), why.data());
  std::exit(2);
}

}  // namespace kata_sentry::bench
