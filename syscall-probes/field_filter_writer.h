// Lays out core/field_filters.h sets as the kernel's field_filters_map / filter_entries_map
// (field_filter_abi.h) and writes one bank of them. Includes libbpf: loaders only.
#pragma once

#include <array>
#include <string_view>
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
// after. Fails naming the map (of object `object`) at the first write the kernel refuses.
Status write_field_filter_bank(bpf_map* filters_map, bpf_map* entries_map, uint32_t bank, const FieldFilterTables& tables,
                               std::string_view object);

// The whole reload: lays out `filters`, writes the idle bank and flips `*active_bank` (the
// object's field_filter_bank), so a program sees the old set or the new one, never half of
// one, and nothing is detached. On failure the active bank is unchanged. `object` names the
// BPF object in errors and in the warning about sets that do not fit.
Status install_field_filters(bpf_map* filters_map, bpf_map* entries_map, volatile uint32_t* active_bank,
                             const FieldFilters& filters, std::string_view object);

}  // namespace kata_sentry::probes
