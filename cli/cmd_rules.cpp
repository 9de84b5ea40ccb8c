// `kata-sentry rules validate|list|fields`: load rules files the way the daemon does and
// report every problem with file:line:column, list what they define, or print the field
// catalogue (like `falco --list`).
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "policy-engine/catalogue.h"
#include "policy-engine/loader.h"
#include "cli/commands.h"
#include "core/flags.h"

namespace kata_sentry::cli {
namespace {

using policy::LoadResult;

// Loads the paths; prints read failures. nullopt when a file cannot be read.
std::optional<LoadResult> load(const std::vector<std::string>& paths, const policy::LoadOptions& options = {}) {
  auto sources = policy::read_rule_sources(paths);
  if (!sources) {
    std::fprintf(stderr, "kata-sentry rules: %s\n", sources.error().describe().c_str());
    return std::nullopt;
  }
  return policy::load_rules(*sources, options);
}

int validate(const std::vector<std::string>& paths, bool json, const policy::LoadOptions& options) {
  auto r = load(paths, options);
  if (!r) return 1;
  const auto& d = r->diagnostics;
  bool ok = !d.has_errors();
  if (json) {
    nlohmann::ordered_json out;
    out["ok"] = ok;
    out["errors"] = d.error_count();
    out["warnings"] = d.warning_count();
    auto diags = nlohmann::ordered_json::array();
    for (const auto& x : d.items()) diags.push_back(nlohmann::ordered_json::parse(x.to_json().dump()));
    out["diagnostics"] = diags;
    auto files = nlohmann::ordered_json::array();
    for (const auto& f : r->files)
      files.push_back({{"file", f.file}, {"rules", f.rules}, {"macros", f.macros}, {"lists", f.lists}, {"sequences", f.sequences}});
    out["files"] = files;
    out["rules_compiled"] = r->rules.rules.size();
    out["rules_skipped"] = r->rules.skipped_rules;
    out["sequences_skipped"] = r->rules.skipped_sequences;
    out["sequences_compiled"] = r->rules.sequences.size();
    std::puts(out.dump(2).c_str());
    return ok ? 0 : 1;
  }
  for (const auto& x : d.items()) std::puts(x.to_text().c_str());
  for (const auto& f : r->files)
    std::printf("%s: %zu rules, %zu sequences, %zu macros, %zu lists\n", f.file.c_str(), f.rules, f.sequences, f.macros,
                f.lists);
  if (!ok) {
    std::printf("invalid: %zu errors, %zu warnings; nothing loaded\n", d.error_count(), d.warning_count());
    return 1;
  }
  size_t deny = 0;
  for (const auto& rule : r->rules.rules) deny += !rule.enforcement.empty();
  std::printf("ok: %zu rules and %zu sequences compiled (%zu deny rules with in-kernel specs), %zu rules and %zu sequences "
              "skipped for an unknown field, %zu warnings\n",
              r->rules.rules.size(), r->rules.sequences.size(), deny, r->rules.skipped_rules, r->rules.skipped_sequences,
              d.warning_count());
  return 0;
}

int list(const std::vector<std::string>& paths, bool json, const policy::LoadOptions& options) {
  auto r = load(paths, options);
  if (!r) return 1;
  if (r->diagnostics.has_errors()) {
    for (const auto& x : r->diagnostics.items()) std::fprintf(stderr, "%s\n", x.to_text().c_str());
    return 1;
  }
  auto types_text = [](const policy::TypeSet& s) {
    std::string t;
    for (EventType e : all_event_types())
      if (static_cast<size_t>(e) < s.size() && s.test(static_cast<size_t>(e))) t += (t.empty() ? "" : ",") + std::string(event_type_name(e));
    return s == policy::all_types() ? std::string("*") : t;
  };
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& rule : r->rules.rules) {
    if (json) {
      nlohmann::ordered_json j = {{"kind", "rule"}, {"name", rule.name}, {"priority", policy::priority_name(rule.priority)},
                                  {"action", policy::action_name(rule.action)}, {"enabled", rule.enabled},
                                  {"event_types", types_text(rule.types)}, {"file", rule.file}, {"tags", rule.tags}};
      if (!rule.enforcement.empty()) {
        auto alts = nlohmann::ordered_json::array();
        for (const auto& spec : rule.enforcement) alts.push_back(nlohmann::ordered_json::parse(spec.to_json().dump()));
        j["enforcement"] = alts;
      }
      out.push_back(j);
    } else {
      std::printf("%-55s %-13s %-12s %s%s\n", rule.name.c_str(), std::string(policy::priority_name(rule.priority)).c_str(),
                  std::string(policy::action_name(rule.action)).c_str(), types_text(rule.types).c_str(),
                  rule.enabled ? "" : " (disabled)");
    }
  }
  for (const auto& s : r->rules.sequences) {
    if (json) {
      out.push_back({{"kind", "sequence"}, {"name", s.name}, {"priority", policy::priority_name(s.priority)},
                     {"action", policy::action_name(s.action)}, {"steps", s.steps.size()},
                     {"within_ns", s.within_ns}, {"file", s.file}});
    } else {
      std::printf("%-55s %-13s %-12s sequence of %zu steps within %llus\n", s.name.c_str(),
                  std::string(policy::priority_name(s.priority)).c_str(), std::string(policy::action_name(s.action)).c_str(),
                  s.steps.size(), static_cast<unsigned long long>(s.within_ns / 1'000'000'000ull));
    }
  }
  if (json) std::puts(out.dump(2).c_str());
  return 0;
}

}  // namespace

int cmd_rules(int argc, char** argv) {
  bool json = false;
  policy::LoadOptions load_options;
  FlagParser flags("kata-sentry rules validate|list FILE|DIR... [--json] [--skip-unknown-fields]  |  kata-sentry rules fields [--json]",
                   "Work with rules files in Falco's format (plus kata-sentry's sequence rules and actions).\n"
                   "  validate  load the files as the daemon would; print every error and warning with\n"
                   "            file:line:column; exit 1 if there is any error\n"
                   "  list      print each rule: priority, action, the event types it watches\n"
                   "  fields    print the field catalogue with types, and what an absent value means");
  flags.add_bool("json", 'j', "print JSON instead of text", &json);
  flags.add_bool("skip-unknown-fields", '\0',
                 "leave out, with a warning naming the field, each rule whose condition (or a macro it uses) names a\n"
                 "field kata-sentry does not know, instead of failing (Falco's skip-if-unknown-filter for every rule)",
                 &load_options.skip_unknown_fields);
  flags.set_epilog("Directories contribute their *.yaml and *.yml files in name order.\n"
                   "Example: kata-sentry rules validate ../shared/compat/falco/falco_rules.yaml rules/");
  auto rest = flags.parse(argc, argv, 2);
  if (rest.empty()) throw UsageError{"rules: expected validate, list or fields"};
  std::string sub = rest.front();
  std::vector<std::string> paths(rest.begin() + 1, rest.end());
  if (sub == "fields") {
    if (!paths.empty()) throw UsageError{"rules fields takes no paths"};
    if (json) std::puts(policy::field_catalogue_json().dump(2).c_str());
    else std::fputs(policy::field_catalogue_text().c_str(), stdout);
    return 0;
  }
  if (sub != "validate" && sub != "list") throw UsageError{"rules: unknown subcommand \"" + sub + "\""};
  if (paths.empty()) throw UsageError{"rules " + sub + ": give at least one rules FILE or DIR"};
  return sub == "validate" ? validate(paths, json, load_options) : list(paths, json, load_options);
}

}  // namespace kata_sentry::cli
