// kata-trace's subcommands as library calls: main.cpp parses the flags (CLI11) into these
// option structs and calls one of them. Each returns the process exit status: 0 done,
// 1 the daemon could not be reached or failed, 2 the request was refused as invalid (a bad
// filter: the daemon's located message is printed).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>

#include "tools/kata-trace/trace_client.h"
#include "tools/kata-trace/trace_format.h"

namespace kata_sentry::trace {

struct CommonOptions {
  std::string socket;             // kata-sentryd's API socket
  bool color = false;             // resolved from --color and isatty
  const std::atomic<bool>* stop = nullptr;
};

struct SandboxesOptions {
  TableFormat format = TableFormat::table;
  bool headers = true;
  double rate_window_s = 1.0;     // events/s: two listings this far apart; 0: not measured
};

struct ProcessesOptions {
  std::string sandbox_id;
  TableFormat format = TableFormat::table;  // ps only
  bool headers = true;                      // ps only
};

struct StreamOptions {
  StreamRequest request;
  LineFormat format = LineFormat::compact;
  bool follow = false;            // without: stop after `count` items
  uint64_t count = 0;             // 0: no limit (with follow) / 20 (without)
  bool reconnect = false;
};

int run_sandboxes(const CommonOptions& common, const SandboxesOptions& options, FILE* out, FILE* err);
// ps: a table; tree: the indented tree. A guest that could not answer still gives the host
// part (and a note on stderr); an unknown sandbox is exit status 1.
int run_ps(const CommonOptions& common, const ProcessesOptions& options, FILE* out, FILE* err);
int run_tree(const CommonOptions& common, const ProcessesOptions& options, FILE* out, FILE* err);
int run_events(const CommonOptions& common, const StreamOptions& options, FILE* out, FILE* err);
int run_alerts(const CommonOptions& common, const StreamOptions& options, FILE* out, FILE* err);

}  // namespace kata_sentry::trace
