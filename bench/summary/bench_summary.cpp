// bench_summary FIGURES.jsonl SUMMARY.json [COMMIT]: the one table `make bench` ends with.
// Reads what the benchmarks recorded (bench/support/bench_figures.h), sets each figure against
// its goal (goals.h), prints the table and writes a machine-readable copy so that runs on
// different commits can be compared. Exits 1 when a goal's figure was not measured.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/summary/goals.h"

using kata_sentry::bench::kGoals;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_summary FIGURES.jsonl SUMMARY.json [COMMIT]\n");
    return 2;
  }
  std::map<std::string, double, std::less<>> measured;
  std::ifstream in(argv[1]);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("id") || !j["id"].is_string() || !j.contains("value") || !j["value"].is_number()) {
      std::fprintf(stderr, "bench_summary: %s:%d: not a figure record\n", argv[1], n);
      return 2;
    }
    measured[j["id"].get<std::string>()] = j["value"].get<double>();  // the last run of a figure wins
  }

  nlohmann::json out{{"commit", argc > 3 ? argv[3] : ""}, {"figures", nlohmann::json::array()}};
  int missing = 0;
  std::printf("\n== summary (goals from issue 15; every value measured in this run)\n");
  std::printf("%-46s %12s %-7s %12s  %s\n", "figure", "value", "unit", "goal", "status");
  for (const auto& g : kGoals) {
    auto it = measured.find(g.id);
    bool has_goal = !std::isnan(g.target);
    std::string goal = has_goal ? std::string(g.at_most ? "<= " : ">= ") + nlohmann::json(g.target).dump() : "-";
    nlohmann::json row{{"id", g.id}, {"what", g.what}, {"unit", g.unit}, {"goal", goal}, {"bench", g.bench}};
    if (it == measured.end()) {
      ++missing;
      row["status"] = "not measured";
      std::printf("%-46.*s %12s %-7.*s %12s  not measured (%.*s)\n", int(g.what.size()), g.what.data(), "-",
                  int(g.unit.size()), g.unit.data(), goal.c_str(), int(g.bench.size()), g.bench.data());
    } else {
      bool met = g.at_most ? it->second <= g.target : it->second >= g.target;
      const char* status = !has_goal ? "reported" : met ? "met" : "NOT met";
      row["value"] = it->second;
      row["status"] = !has_goal ? "reported" : met ? "met" : "not met";
      std::printf("%-46.*s %12.3g %-7.*s %12s  %s\n", int(g.what.size()), g.what.data(), it->second,
                  int(g.unit.size()), g.unit.data(), goal.c_str(), status);
    }
    out["figures"].push_back(std::move(row));
  }
  std::ofstream(argv[2]) << out.dump(2) << "\n";
  std::printf("(machine-readable copy: %s)\n", argv[2]);
  return missing ? 1 : 0;
}
