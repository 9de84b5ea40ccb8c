// `kata-sentry replay`: evaluate recorded events (the JSON lines `kata-sentry trace`
// prints) against rules, offline, and print alerts as Falco-compatible JSON lines — the
// counterpart of `falco -e`.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "core/event_json.h"
#include "policy-engine/engine.h"
#include "policy-engine/loader.h"
#include "cli/commands.h"
#include "core/flags.h"

namespace kata_sentry::cli {

int cmd_replay(int argc, char** argv) {
  std::vector<std::string> rule_paths;
  std::string events_path, mode = "monitor", min_priority = "debug";
  FlagParser flags("kata-sentry replay --rules FILE|DIR... --events FILE.jsonl [flags]",
                   "Evaluate recorded events against rules and print the alerts as JSON lines (Falco's\n"
                   "keys plus sandbox, view, action, enforced). Each event line keeps its own view and\n"
                   "sandbox.id. Problems with the rules or the events go to stderr.");
  flags.add_list("rules", 'r', "PATH", "rules file or directory (repeatable)", &rule_paths);
  flags.add_string("events", 'e', "FILE", "JSON-lines events, '-' for stdin", &events_path);
  flags.add_choice("mode", {"monitor", "enforce"}, "report actions as enforced (enforce) or not (monitor)", &mode);
  flags.add_string("min-priority", 'p', "LEVEL", "drop alerts below this priority (emergency..debug)", &min_priority);
  auto rest = flags.parse(argc, argv, 2);
  rule_paths.insert(rule_paths.end(), rest.begin(), rest.end());
  if (rule_paths.empty()) throw UsageError{"replay: --rules is required"};
  if (events_path.empty()) throw UsageError{"replay: --events is required"};
  auto prio = policy::priority_from_name(min_priority);
  if (!prio) throw UsageError{"replay: unknown priority \"" + min_priority + "\""};

  auto sources = policy::read_rule_sources(rule_paths);
  if (!sources) {
    std::fprintf(stderr, "kata-sentry replay: %s\n", sources.error().describe().c_str());
    return 1;
  }
  auto loaded = policy::load_rules(*sources);
  for (const auto& d : loaded.diagnostics.items())
    if (d.severity == policy::Severity::error) std::fprintf(stderr, "%s\n", d.to_text().c_str());
  if (loaded.diagnostics.has_errors()) return 1;

  std::ifstream file;
  std::istream* in = &std::cin;
  if (events_path != "-") {
    file.open(events_path);
    if (!file) {
      std::fprintf(stderr, "kata-sentry replay: open events file %s: %s\n", events_path.c_str(), std::strerror(errno));
      return 1;
    }
    in = &file;
  }
  policy::EngineConfig cfg;
  cfg.mode = mode == "enforce" ? policy::Mode::enforce : policy::Mode::monitor;
  cfg.min_priority = *prio;
  policy::Engine engine(std::move(loaded.rules), cfg);
  std::vector<policy::Alert> alerts;
  std::string line;
  size_t line_no = 0, bad = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto ev = event_from_json_line(line);
    if (!ev) {
      std::fprintf(stderr, "kata-sentry replay: %s:%zu: %s\n", events_path.c_str(), line_no, ev.error().describe().c_str());
      ++bad;
      continue;
    }
    alerts.clear();
    engine.process(*ev, alerts);
    for (const auto& a : alerts) std::puts(policy::alert_to_json_line(a).c_str());
  }
  auto st = engine.stats();
  std::fprintf(stderr, "replay: %llu events, %llu alerts, %zu bad lines\n", static_cast<unsigned long long>(st.events),
               static_cast<unsigned long long>(st.alerts), bad);
  return bad ? 1 : 0;
}

}  // namespace kata_sentry::cli
