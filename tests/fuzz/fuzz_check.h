// Invariant checks inside libFuzzer targets. A broken invariant prints what broke and aborts,
// which libFuzzer reports as a crash and saves the input (crash-<sha1>) for a regression test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <google/protobuf/stubs/logging.h>

#define FUZZ_CHECK(cond, ...)                                                      \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                           \
      std::fputc('\n', stderr);                                                    \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

// Runs body; an escaping exception is a finding (the code under test promises not to throw).
template <typename F>
void fuzz_no_throw(const char* what, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s threw: %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s threw a non-std exception\n", what);
    std::abort();
  }
}

// Protobuf logs every refused string field (not UTF-8) to stderr; a fuzzer makes millions of
// them, which floods the log and slows the run. Call once, from a static initializer.
inline bool quiet_protobuf() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return true;
}
