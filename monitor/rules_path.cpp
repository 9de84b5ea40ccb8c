#include "monitor/rules_path.h"

#include <filesystem>

#include "policy-engine/loader.h"

namespace kata_sentry::monitor {

namespace fs = std::filesystem;

Result<std::string> default_rules_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "kata-sentry" / "rules";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  fs::path source = KS_SOURCE_RULES_DIR;
  if (fs::is_directory(source, ec)) return source.string();
  return fail(ErrorCode::not_found, "default rules: neither <bin>/../share/kata-sentry/rules nor " + source.string() +
                                        " exists; pass --rules FILE|DIR");
}

Result<std::unique_ptr<policy::Engine>> load_engine(const std::vector<std::string>& paths, policy::Mode mode) {
  auto sources = policy::read_rule_sources(paths);
  if (!sources) return std::unexpected(sources.error());
  auto loaded = policy::load_rules(*sources);
  if (loaded.diagnostics.has_errors()) {
    std::string text = "rules have errors:";
    for (const auto& d : loaded.diagnostics.items())
      if (d.severity == policy::Severity::error) text += "\n" + d.to_text();
    return fail(ErrorCode::invalid_argument, text);
  }
  policy::EngineConfig cfg;
  cfg.mode = mode;
  return std::make_unique<policy::Engine>(std::move(loaded.rules), cfg);
}

}  // namespace kata_sentry::monitor
