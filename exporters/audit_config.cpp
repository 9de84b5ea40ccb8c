#include "exporters/audit_config.h"

#include "core/strict_yaml.h"

namespace kata_sentry::exporters {

std::string_view policy_name(DiskFullPolicy p) {
  switch (p) {
    case DiskFullPolicy::block: return "block";
    case DiskFullPolicy::drop_oldest: return "drop_oldest";
    case DiskFullPolicy::stop_sandboxes: return "stop_sandboxes";
  }
  return "?";
}

std::string fsync_text(const AuditConfig& c) {
  return c.fsync == FsyncMode::always ? "always" : "interval:" + std::to_string(c.fsync_interval_ms);
}

Result<AuditConfig> read_audit_config(const YAML::Node& node, const std::string& origin) {
  AuditConfig c;
  std::string fsync = fsync_text(c), disk_full(policy_name(c.disk_full));
  config::StrictYaml y;
  y.string("dir", &c.dir);
  y.string("key_file", &c.key_file);
  y.string("fsync", &fsync);
  y.unsigned_int("segment_bytes", &c.segment_bytes, 4096, 1ull << 34);
  y.unsigned_int("checkpoint_records", &c.checkpoint_records, 1, 1ull << 32);
  y.unsigned_int("checkpoint_seconds", &c.checkpoint_seconds, 1, 86400);
  y.boolean("events", &c.events);
  y.unsigned_int("max_bytes", &c.max_bytes, 0, 1ull << 50);
  y.unsigned_int("max_age_seconds", &c.max_age_seconds, 0, 1ull << 40);
  y.number("max_disk_percent", &c.max_disk_percent, 0, 100);
  y.choice("disk_full", {"block", "drop_oldest", "stop_sandboxes"}, &disk_full);
  y.unsigned_int("min_free_bytes", &c.min_free_bytes, 0, 1ull << 40);
  y.unsigned_int("max_pending_bytes", &c.max_pending_bytes, 64 << 10, 1ull << 32);
  if (auto st = y.load_node(node, origin); !st) return std::unexpected(st.error());
  const std::string where = config::StrictYaml::where(node, origin);
  if (fsync == "always") {
    c.fsync = FsyncMode::always;
  } else if (fsync.starts_with("interval:")) {
    std::string ms = fsync.substr(9);
    size_t used = 0;
    uint64_t v = 0;
    try {
      v = std::stoull(ms, &used);
    } catch (...) {
      used = 0;
    }
    if (ms.empty() || used != ms.size() || v < 1 || v > 10000)
      return fail(ErrorCode::invalid_argument, where + ": audit 'fsync': interval must be 1 to 10000 ms (got '" + fsync + "')");
    c.fsync = FsyncMode::interval;
    c.fsync_interval_ms = v;
  } else {
    return fail(ErrorCode::invalid_argument, where + ": audit 'fsync' must be always or interval:<ms> (got '" + fsync + "')");
  }
  c.disk_full = disk_full == "drop_oldest" ? DiskFullPolicy::drop_oldest
                : disk_full == "stop_sandboxes" ? DiskFullPolicy::stop_sandboxes
                                                : DiskFullPolicy::block;
  if (c.dir.empty() || c.dir[0] != '/') return fail(ErrorCode::invalid_argument, where + ": audit 'dir' must be an absolute path");
  if (c.key_file.empty() || c.key_file[0] != '/') return fail(ErrorCode::invalid_argument, where + ": audit 'key_file' must be an absolute path");
  return c;
}

}  // namespace kata_sentry::exporters
