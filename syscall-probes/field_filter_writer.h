// Lays out core/field_filters.h sets as the kernel's field_filters_map / filter_entries_map
// (field_filter_abi.h) and writes one bank of them. Includes libbpf: loaders only.
#pragma once

#include <array>
#include <vector>

#include <linux/types.h>

#include "core/field_filters.h"
#include "core/result.h"

struct bpf_map;

namespace kata_sentry::probes {

struct FieldFilterTables {
  std::array<ks_field_filter, kEventTypeSlots> by_type{};  // zero: unconstrained
  std::vector<ks_filter_entry> entries;                    // at most KS_FILTER_MAX_ENTRIES
  size_t dropped_types = 0;  // types left unconstrained: their entries did not fit
};

// Identical sets share their entries (the open family usually names the same paths). A set
// that does not fit any more leaves its field unconstrained (never narrower). Pure.
FieldFilterTables lay_out_field_filters(const FieldFilters& filters);

// Writes `tables` into bank `bank` (0 or 1) of both maps; the caller flips the active bank
// after. Fails naming the map at the first write the kernel refuses.
Status write_field_filter_bank(bpf_map* filters_map, bpf_map* entries_map, uint32_t bank, const FieldFilterTables& tables);

}  // namespace kata_sentry::probes
