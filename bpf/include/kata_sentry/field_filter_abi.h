/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * In-kernel filtering on a record's path and comm (field_filters.bpf.h): the map values user
 * space writes from the loaded rules. Included by BPF C after vmlinux.h and by C++ after
 * <linux/types.h>; the C++ side checks the layout (syscall-probes/field_filter_writer.cpp).
 *
 * Two banks of both maps: user space writes the idle bank, then flips field_filter_bank, so a
 * program never sees half of an update (a rule reload changes them while syscalls run).
 */
#ifndef KATA_SENTRY_FIELD_FILTER_ABI_H
#define KATA_SENTRY_FIELD_FILTER_ABI_H

#define KS_FILTER_TEXT_LEN 64       /* bytes of a path compared; longer prefixes are cut (over-approximation) */
#define KS_FILTER_MAX_PER_FIELD 32  /* entries one type may name for one field; more: unconstrained */
#define KS_FILTER_MAX_ENTRIES 1024  /* entries of one bank, every type together */

/* field_filters_map[bank * KS_EVT_MAX + type]: the entries a record of `type` must match one of.
 * A count of 0 means the field is unconstrained for that type. */
struct ks_field_filter {
	__u16 path_start; /* index into the bank's entries */
	__u8 path_count;
	__u8 comm_count;
	__u16 comm_start;
	__u16 _pad;
};

/* filter_entries_map[bank * KS_FILTER_MAX_ENTRIES + i]. `text` is zero-padded, 8-aligned. */
struct ks_filter_entry {
	__u8 len;   /* bytes of text that count (<= KS_FILTER_TEXT_LEN; < it when exact) */
	__u8 exact; /* 1: the value equals text (its NUL is compared too); 0: starts with it */
	__u8 _pad[6];
	char text[KS_FILTER_TEXT_LEN];
};

#endif
