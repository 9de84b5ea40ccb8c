// Coverage feedback for libFuzzer from GCC-built code. The project is C++23 (std::expected)
// and this machine's clang (14) cannot compile libstdc++'s <expected>, so the fuzz targets
// are built with GCC + AddressSanitizer and linked to compiler-rt's libFuzzer engine. GCC
// instruments with -fsanitize-coverage=trace-pc (and trace-cmp, which libFuzzer reads
// directly); this file turns each trace-pc call into a hit on an 8-bit edge counter that
// libFuzzer registers as its coverage map. It must itself be built without coverage.
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* stop);

namespace {

constexpr size_t kCounters = 1 << 16;
uint8_t counters[kCounters];
thread_local uintptr_t previous = 0;

__attribute__((constructor)) void register_counters() {
  __sanitizer_cov_8bit_counters_init(counters, counters + kCounters);
}

}  // namespace

extern "C" void __sanitizer_cov_trace_pc() {
  // AFL-style edge hash: (previous location, this location).
  auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  size_t edge = ((pc >> 1) ^ previous) & (kCounters - 1);
  ++counters[edge];
  previous = pc >> 2;
}

// GCC's trace-cmp also reports floating-point comparisons; libFuzzer has no hooks for them.
extern "C" void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" void __sanitizer_cov_trace_cmpd(double, double) {}
