#include "syscall-probes/field_filter_writer.h"

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <string>

#include "core/logging.h"
#include "syscall-probes/bpf_util.h"

namespace kata_sentry::probes {

static_assert(sizeof(ks_field_filter) == 8);
static_assert(sizeof(ks_filter_entry) == 8 + KS_FILTER_TEXT_LEN);
static_assert(offsetof(ks_filter_entry, text) == 8);
static_assert(KS_FILTER_MAX_PER_FIELD == kFilterMaxPerField && KS_FILTER_MAX_PER_FIELD < 256,
              "counts are one byte");
static_assert(KS_FILTER_MAX_ENTRIES <= UINT16_MAX, "starts are two bytes");

FieldFilterTables lay_out_field_filters(const FieldFilters& filters) {
  FieldFilterTables t;
  std::map<std::set<StringMatch>, uint16_t> placed;  // a set's first entry
  // The start of `m`'s entries, written once per distinct set; nullopt when it does not fit.
  auto place = [&](const std::set<StringMatch>& m) -> std::optional<uint16_t> {
    if (auto it = placed.find(m); it != placed.end()) return it->second;
    if (m.empty() || m.size() > KS_FILTER_MAX_PER_FIELD || t.entries.size() + m.size() > KS_FILTER_MAX_ENTRIES)
      return std::nullopt;
    for (const auto& s : m)
      if (!fits_kernel_text(s, KS_FILTER_TEXT_LEN)) return std::nullopt;
    auto start = static_cast<uint16_t>(t.entries.size());
    for (const auto& s : m) {
      ks_filter_entry e{};
      e.len = static_cast<uint8_t>(s.text.size());
      e.exact = s.prefix ? 0 : 1;
      std::memcpy(e.text, s.text.data(), s.text.size());
      t.entries.push_back(e);
    }
    placed.emplace(m, start);
    return start;
  };
  for (const auto& [type, f] : filters) {
    auto i = static_cast<size_t>(type);
    if (i >= kEventTypeSlots) continue;
    ks_field_filter& d = t.by_type[i];
    bool dropped = false;
    if (f.path) {
      if (auto start = place(*f.path)) {
        d.path_start = *start;
        d.path_count = static_cast<uint8_t>(f.path->size());
      } else {
        dropped = true;
      }
    }
    if (f.comm) {
      bool fits = true;
      for (const auto& s : *f.comm) fits = fits && s.text.size() < KS_COMM_LEN;
      auto start = fits ? place(*f.comm) : std::nullopt;
      if (start) {
        d.comm_start = *start;
        d.comm_count = static_cast<uint8_t>(f.comm->size());
      } else {
        dropped = true;
      }
    }
    if (dropped) ++t.dropped_types;
  }
  return t;
}

Status write_field_filter_bank(bpf_map* filters_map, bpf_map* entries_map, uint32_t bank, const FieldFilterTables& tables,
                               std::string_view object) {
  for (uint32_t i = 0; i < kEventTypeSlots; ++i) {
    uint32_t key = bank * KS_EVT_MAX + i;
    if (bpf_map__update_elem(filters_map, &key, sizeof key, &tables.by_type[i], sizeof tables.by_type[i], 0) != 0)
      return fail_errno("update " + std::string(object) + " field_filters_map");
  }
  for (uint32_t i = 0; i < tables.entries.size(); ++i) {
    uint32_t key = bank * KS_FILTER_MAX_ENTRIES + i;
    if (bpf_map__update_elem(entries_map, &key, sizeof key, &tables.entries[i], sizeof tables.entries[i], 0) != 0)
      return fail_errno("update " + std::string(object) + " filter_entries_map");
  }
  return {};
}

Status install_field_filters(bpf_map* filters_map, bpf_map* entries_map, volatile uint32_t* active_bank,
                             const FieldFilters& filters, std::string_view object) {
  auto tables = lay_out_field_filters(filters);
  if (tables.dropped_types)
    logger("probes")->warn("{}: {} event types keep every path or comm: their filter entries do not fit", object,
                           tables.dropped_types);
  uint32_t idle = (*active_bank & 1) ^ 1;
  if (auto st = write_field_filter_bank(filters_map, entries_map, idle, tables, object); !st) return st;
  *active_bank = idle;
  return {};
}

}  // namespace kata_sentry::probes
