/* SPDX-License-Identifier: GPL-2.0 */
/* The per-CPU counters (enum ks_stat in event_abi.h) that every kata-sentry BPF object keeps:
 * user space sums them across CPUs, so drops and refusals are counted, never silent. Include
 * after vmlinux.h, bpf_helpers.h and event_abi.h. */
#pragma once

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats_map SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats_map, &stat);

	if (v)
		*v += 1; /* per-CPU: no atomics needed */
}
