/* SPDX-License-Identifier: GPL-2.0 */
/* In-kernel filtering on a record's path and comm (field_filter_abi.h): after its type is
 * wanted (wanted_types.bpf.h), a record whose path or comm matches none of its type's entries
 * is one no rule can match, so it is neither parked nor sent. User space writes the idle bank
 * of both maps from the loaded rules and then flips field_filter_bank (no reattach). Include
 * after vmlinux.h, bpf_helpers.h, event_abi.h and stats.bpf.h. */
#pragma once

#include "kata_sentry/field_filter_abi.h"

/* Bit 0: the active bank. */
volatile __u32 field_filter_bank = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_EVT_MAX);
	__type(key, __u32);
	__type(value, struct ks_field_filter);
} field_filters_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_FILTER_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct ks_filter_entry);
} filter_entries_map SEC(".maps");

_Static_assert(KS_FILTER_TEXT_LEN % 8 == 0 && KS_PATH_LEN >= KS_FILTER_TEXT_LEN,
	       "filter_text_equal() reads KS_FILTER_TEXT_LEN bytes of a path a word at a time");
_Static_assert(__builtin_offsetof(struct ks_event, path) % 8 == 0 &&
		       __builtin_offsetof(struct ks_event, proc.comm) % 8 == 0 &&
		       __builtin_offsetof(struct ks_filter_entry, text) % 8 == 0,
	       "filter_text_equal() reads these a word at a time");

/* The first n bytes of a and b are equal (n <= KS_FILTER_TEXT_LEN). Word at a time, as
 * guest_lsm's compare_word(); eight fixed steps, checked once in the entry callback. A comm
 * entry has n <= KS_COMM_LEN, so its compare stops inside the comm. Little-endian: the last,
 * partial word is masked to its low (n - off) bytes. */
static __always_inline bool filter_text_equal(const char *a, const char *b, __u32 n)
{
#pragma unroll
	for (int k = 0; k < KS_FILTER_TEXT_LEN / 8; k++) {
		__u32 off = k * 8;
		__u64 diff;

		if (off >= n)
			break;
		diff = *(const __u64 *)(a + off) ^ *(const __u64 *)(b + off);
		if (n - off < 8)
			diff &= (1ULL << ((n - off) * 8)) - 1;
		if (diff)
			return false;
	}
	return true;
}

struct filter_walk {
	const char *value; /* the record's path or comm: NUL-terminated, zero after it */
	__u32 base;        /* the bank's index of the type's first entry */
	bool hit;
};

/* One entry: a bpf_loop callback, so the verifier checks the compare once, not per entry. */
static long filter_entry_matches(__u32 i, void *data)
{
	struct filter_walk *w = data;
	__u32 idx = w->base + i;
	struct ks_filter_entry *f = bpf_map_lookup_elem(&filter_entries_map, &idx);
	__u32 n;

	if (!f)
		return 1;
	/* An exact entry compares the value's NUL too. */
	n = f->len + (f->exact ? 1 : 0);
	if (n > KS_FILTER_TEXT_LEN)
		return 0;
	if (filter_text_equal(w->value, f->text, n)) {
		w->hit = true;
		return 1;
	}
	return 0;
}

static __always_inline bool filter_any_matches(const char *value, __u32 bank, __u32 start, __u32 count)
{
	struct filter_walk w = { .value = value, .base = bank * KS_FILTER_MAX_ENTRIES + start };

	if (count > KS_FILTER_MAX_PER_FIELD)
		count = KS_FILTER_MAX_PER_FIELD;
	bpf_loop(count, filter_entry_matches, &w, 0);
	return w.hit;
}

/* False when e's path or comm rules it out for every consumer (counted). A path not read yet
 * (path_len 0: read again at sys_exit) is not judged. */
static __always_inline bool fields_wanted(const struct ks_event *e)
{
	__u32 bank = field_filter_bank & 1;
	__u32 idx = bank * KS_EVT_MAX + (e->hdr.type & (KS_EVT_MAX - 1));
	struct ks_field_filter *f = bpf_map_lookup_elem(&field_filters_map, &idx);

	if (!f || (!f->path_count && !f->comm_count))
		return true;
	if (f->comm_count && !filter_any_matches(e->proc.comm, bank, f->comm_start, f->comm_count))
		goto out;
	if (f->path_count && e->path_len &&
	    !filter_any_matches(e->path, bank, f->path_start, f->path_count))
		goto out;
	return true;
out:
	count(KS_STAT_FILTERED_FIELDS);
	return false;
}
