/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between host_deny.bpf.c and its loader (host-probes/host_deny.cpp): the deny
 * entries user space writes into connect_rules_map and device_rules_map. Include after
 * vmlinux.h (BPF) or <linux/types.h> (C++).
 *
 * Each map holds two banks of KS_HOST_DENY_MAX entries; the `*_active` word in .bss names
 * the live bank and its count (bit 31 = bank, low 16 bits = count), so an update writes the
 * idle bank and then switches with one store: a program never sees a half-written set.
 */
#ifndef KATA_SENTRY_HOST_DENY_ABI_H
#define KATA_SENTRY_HOST_DENY_ABI_H

#include "kata_sentry/event_abi.h"

#define KS_HOST_DENY_MAX 32 /* entries per bank, per map */
#define KS_HOST_DENY_BANK_BIT (1u << 31)

/* Which fields of an entry take part; all that are set must match. */
enum ks_host_deny_flags {
	KS_HD_F_UID = 1 << 0,
	KS_HD_F_COMM = 1 << 1,
	KS_HD_F_PORT = 1 << 2,      /* connect: destination port == port */
	KS_HD_F_ADDR = 1 << 3,      /* connect: first prefix_len bits of the destination == addr */
	KS_HD_F_DEV_TYPE = 1 << 4,  /* device: BPF_DEVCG_DEV_CHAR or _BLOCK == dev_type */
	KS_HD_F_DEV_MAJOR = 1 << 5,
	KS_HD_F_DEV_MINOR = 1 << 6,
};

/*
 * connect entries: `hooks` is a mask of 1 << enum ks_cgroup_hook. Destinations are compared
 * as 16-byte IPv6 addresses; IPv4 ones (connect4/sendmsg4, and v4-mapped ones at the v6
 * hooks) as ::ffff:a.b.c.d, so one IPv4 entry (prefix_len = 96 + n) covers both paths.
 * device entries: `hooks` is a mask of BPF_DEVCG_ACC_* (mknod, read, write).
 */
struct ks_host_deny_rule {
	__u32 flags;     /* enum ks_host_deny_flags */
	__u32 rule_id;   /* user space's index of the rule; refusal records carry it in arg[3] */
	__u32 hooks;
	__u32 uid;
	__u32 dev_type;
	__u32 major;
	__u32 minor;
	__u16 port;      /* host byte order */
	__u8 prefix_len; /* bits of addr compared, 0..128 */
	__u8 _pad;
	__u8 addr[16];
	char comm[KS_COMM_LEN];
};

#endif
