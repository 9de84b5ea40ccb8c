// Where a sandbox monitor's alerts and audit records go: one line each on stderr for a person,
// or Falco-compatible JSON lines in a file (alert_to_json) for falcosidekick and SIEMs. Audit
// records share the file and carry "audit": true, so a reader tells them apart with one key.
//
// Thread-safe: the host and guest threads of a monitor write through one writer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "core/result.h"
#include "policy-engine/alert.h"

namespace kata_sentry::monitor {

// What the runtime did (or tried to do) because of an alert or a policy push. `detail` says it
// in plain words: "denied in-kernel by guest LSM", "killed guest pid 123 with SIGKILL",
// "stopped VM over QMP".
struct AuditRecord {
  uint64_t time_ns = 0;
  std::string rule;          // the alert's rule; "" for sandbox-wide actions (policy push)
  std::string sandbox_id;
  std::string sandbox_name;
  View view = View::guest;   // the side the action was taken on
  policy::Action action = policy::Action::alert;
  bool ok = true;            // false: the action was attempted and failed (detail says why)
  std::string detail;
};

nlohmann::ordered_json audit_to_json(const AuditRecord& record, const std::string& hostname);
// One line, no newline; text that is not UTF-8 (a guest's file name) is replaced, never thrown on.
std::string audit_to_json_line(const AuditRecord& record, const std::string& hostname);

class AlertWriter {
 public:
  // Human-readable lines on stderr.
  AlertWriter();
  // JSON lines appended to `path` (created if missing). Fails naming the path.
  static Result<std::unique_ptr<AlertWriter>> open_file(const std::string& path);
  ~AlertWriter();
  AlertWriter(const AlertWriter&) = delete;
  AlertWriter& operator=(const AlertWriter&) = delete;

  void alert(const policy::Alert& alert) noexcept;
  void audit(const AuditRecord& record) noexcept;
  uint64_t write_errors() const;

 private:
  explicit AlertWriter(FILE* file);
  void write_line(const std::string& line) noexcept;

  mutable std::mutex mu_;
  FILE* file_ = nullptr;  // nullptr: stderr, text form
  std::string hostname_;
  uint64_t write_errors_ = 0;
};

}  // namespace kata_sentry::monitor
