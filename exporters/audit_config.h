// The audit log's settings: the `audit:` section of sentryd.yaml (and of `kata-sentry run
// --config`). Plain struct with named defaults; read_audit_config() reads the section strictly.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace YAML {
class Node;
}

namespace kata_sentry::exporters {

enum class FsyncMode {
  always,    // every append waits for its own fdatasync (appenders that wait together share one)
  interval,  // group commit: one fdatasync per interval, or sooner when someone waits for a record
};

// What happens when the log's file system runs short of space (auditd's disk_full_action).
enum class DiskFullPolicy {
  block,           // appends wait until space returns (detection stalls; nothing is lost)
  drop_oldest,     // the oldest segments are deleted to make room
  stop_sandboxes,  // every sandbox is stopped and appends are refused (counted) until space returns
};

struct AuditConfig {
  std::string dir = "/var/lib/kata-sentry/audit";
  std::string key_file = "/var/lib/kata-sentry/node.key";  // Ed25519 seed, mode 0600; created if missing
  FsyncMode fsync = FsyncMode::interval;
  uint64_t fsync_interval_ms = 20;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t checkpoint_records = 10000;  // a signed checkpoint after this many records ...
  uint64_t checkpoint_seconds = 60;     // ... or this long after the last one, whichever is first
  bool events = false;                  // also keep every event (large)
  // Retention: the oldest sealed segments are deleted beyond any limit (0 = no limit).
  uint64_t max_bytes = 10ull << 30;
  uint64_t max_age_seconds = 30ull * 24 * 3600;
  double max_disk_percent = 50;         // of the file system's size
  DiskFullPolicy disk_full = DiskFullPolicy::block;
  uint64_t min_free_bytes = 64ull << 20;  // below this much free space the disk counts as full
  uint64_t max_pending_bytes = 8ull << 20;  // accepted but not yet written; appends wait beyond
};

std::string_view policy_name(DiskFullPolicy policy);
std::string fsync_text(const AuditConfig& config);  // "always" or "interval:20"

// Reads the `audit:` mapping (every key optional, unknown keys are errors naming
// file:line:column). `origin` names the file.
Result<AuditConfig> read_audit_config(const YAML::Node& node, const std::string& origin);

}  // namespace kata_sentry::exporters
