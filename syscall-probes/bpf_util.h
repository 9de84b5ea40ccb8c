// Small libbpf helpers shared by the BPF loaders (host probes, host deny, guest sensor), so each
// reads its counters and names its errors the same way. Includes libbpf: loaders only.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>

#include "core/event.h"
#include "core/result.h"

struct bpf_map;
struct ring_buffer;

namespace kata_sentry::probes {

// "EPERM", or "errno N" for a number without a name.
std::string errno_name(int err);

// The sum over every possible CPU of one u64 slot of a per-CPU array map (the enum ks_stat
// counters of event_abi.h). Fails naming `what` when the map cannot be read.
Result<uint64_t> sum_percpu_counter(const bpf_map* map, uint32_t key, const std::string& what);

// Writes a whole wanted_types_map (wanted_types.bpf.h, one byte per event type: 1 = build its
// records). Fails naming `what` at the first slot the kernel refuses; slots before it are
// written already, so callers push the whole set again after a failure.
Status write_wanted_types(bpf_map* map, const std::bitset<kEventTypeSlots>& wanted, const std::string& what);

// How long a woken consumer lets records gather before it drains them. The BPF side wakes an
// idle consumer with the first record and a busy one only past its wakeup threshold; while
// this window is open the consumer counts as busy, so a stream costs at most one wakeup per
// window (~1000/s) instead of one per record, for at most this much added latency.
inline constexpr int kCoalesceMicros = 1000;

// Waits up to timeout_ms for the ring buffer to wake us, lets a burst gather for
// kCoalesceMicros, then consumes everything queued (also what never woke us). Returns the
// number of records consumed or a negative errno, as ring_buffer__poll() does.
int poll_coalesced(ring_buffer* ring, int timeout_ms);

}  // namespace kata_sentry::probes
