#include "exporters/sink_filter.h"

#include <algorithm>

namespace kata_sentry::exporters {

bool SinkFilter::pass(const ExportRecord& r) const {
  switch (r.kind) {
    case RecordKind::checkpoint: return true;
    case RecordKind::event: if (!events) return false; break;
    case RecordKind::audit: if (!audit) return false; break;
    case RecordKind::alert: if (!alerts) return false; break;
  }
  if (!views.empty()) {
    std::string v = doc_string(r, "view");
    if (std::find(views.begin(), views.end(), v) == views.end()) return false;
  }
  if (r.kind != RecordKind::alert) return true;
  if (record_rank(r) > min_rank) return false;
  if (!tags.empty()) {
    auto it = r.doc.find("tags");
    if (it == r.doc.end() || !it->is_array()) return false;
    bool any = false;
    for (const auto& t : *it)
      if (t.is_string() && std::find(tags.begin(), tags.end(), t.get<std::string>()) != tags.end()) any = true;
    if (!any) return false;
  }
  return true;
}

}  // namespace kata_sentry::exporters
