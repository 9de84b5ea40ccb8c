// Small libbpf helpers shared by the BPF loaders (host probes, host deny, guest sensor), so each
// reads its counters and names its errors the same way. Includes libbpf: loaders only.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

struct bpf_map;

namespace kata_sentry::probes {

// "EPERM", or "errno N" for a number without a name.
std::string errno_name(int err);

// The sum over every possible CPU of one u64 slot of a per-CPU array map (the enum ks_stat
// counters of event_abi.h). Fails naming `what` when the map cannot be read.
Result<uint64_t> sum_percpu_counter(const bpf_map* map, uint32_t key, const std::string& what);

}  // namespace kata_sentry::probes
