// How kata-trace prints: one line per event or alert (compact, wide, or the JSON line of
// `kata-sentry trace --format json`), and the `sandboxes` table. Everything a guest chose
// (names, paths, argv) goes through terminal_safe(); colour only when asked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"
#include "sentryd.pb.h"
#include "tools/kata-trace/trace_client.h"

namespace kata_sentry::trace {

enum class LineFormat { compact, wide, json };

// compact: "17:20:01.123 EXEC  guest sb-1/c1  sh[42] → /bin/cat /etc/hosts  ok"
// wide adds ppid, uid, the parent's name and the event type; json is event_to_json_line().
std::string event_line(const Event& event, LineFormat format, bool color);
std::string alert_line(const AlertItem& alert, LineFormat format, bool color);

// The tag of an event's kind in compact output ("EXEC", "OPEN", "NET", "LSM", ...).
std::string_view event_tag(EventType type);

struct SandboxRow {
  const v1::SandboxStatus* status = nullptr;
  double events_per_s = -1;  // < 0: not measured
  uint64_t subscriber_drops = 0;
};

enum class TableFormat { table, wide, json };

// `now_ns`: the daemon's clock (ages); `subscribers` are listed under the table in wide form.
std::string sandboxes_table(const std::vector<SandboxRow>& rows, const v1::ListSandboxesResponse& resp, TableFormat format,
                            bool headers);

// Rows of cells as aligned columns (two spaces between), one line each; the last column unpadded.
std::string aligned_columns(const std::vector<std::vector<std::string>>& cells);

// Guest-side drops of a sandbox, all reasons together (what the table's G column shows).
uint64_t guest_drops(const v1::SandboxStatus& s);

}  // namespace kata_sentry::trace
