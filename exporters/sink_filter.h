// What one sink exports. Checkpoints always pass: every sink holds the signed chain heads.
#pragma once

#include <string>
#include <vector>

#include "exporters/export_record.h"

namespace kata_sentry::exporters {

struct SinkFilter {
  int min_rank = 7;                 // priority_rank(): alerts at least this severe (7 = Debug: all)
  std::vector<std::string> views;   // "host", "guest"; empty: both
  std::vector<std::string> tags;    // alerts carrying any of these rule tags; empty: all
  bool alerts = true;
  bool audit = true;
  bool events = false;              // events are in the log only when audit.events is on

  bool pass(const ExportRecord& record) const;
};

}  // namespace kata_sentry::exporters
