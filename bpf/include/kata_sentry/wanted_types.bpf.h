/* SPDX-License-Identifier: GPL-2.0 */
/* In-kernel filtering, shared by every kata-sentry BPF object that builds records: which event
 * types some consumer (a rule, a sequence, a raw-event follower) can use, one byte per
 * enum ks_event_type, 1 = build the record. The loader sets every slot before attaching and user
 * space narrows the set from the loaded rules in place (no reattach). Include after vmlinux.h,
 * bpf_helpers.h and event_abi.h. */
#pragma once

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KS_EVT_MAX);
	__type(key, __u32);
	__type(value, __u8);
} wanted_types_map SEC(".maps");

static __always_inline bool type_is_wanted(__u32 type)
{
	__u8 *wanted = bpf_map_lookup_elem(&wanted_types_map, &type);

	return wanted && *wanted;
}
