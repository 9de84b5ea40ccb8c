/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between guest_lsm.bpf.c and its loader (guest-probes/guest_sensor.cpp): the
 * read-only config `cfg` and the deny-rule entries user space writes into deny_rules_map.
 * Include after vmlinux.h (BPF) or <linux/types.h> (C++).
 */
#ifndef KATA_SENTRY_GUEST_LSM_ABI_H
#define KATA_SENTRY_GUEST_LSM_ABI_H

#include "kata_sentry/event_abi.h"

#define KS_DENY_MAX_RULES 128 /* entries per bank; deny_rules_map holds two banks */
#define KS_DENY_PATH_LEN 128  /* longest path a rule can name (incl. NUL) */

/* Which fields of struct ks_deny_rule take part; all that are set must match. */
enum ks_deny_flags {
	KS_DENY_F_UID = 1 << 0,
	KS_DENY_F_COMM = 1 << 1,
	KS_DENY_F_PATH_EXACT = 1 << 2,
	KS_DENY_F_PATH_PREFIX = 1 << 3,
	KS_DENY_F_CGROUP = 1 << 4,      /* the task's cgroup or one of its ancestors is cgroup_id */
	KS_DENY_F_ARG_EQ = 1 << 5,      /* arg[arg_index] == arg_value */
	KS_DENY_F_ARG_ANY_BIT = 1 << 6, /* arg[arg_index] & arg_value */
	KS_DENY_F_SYSCALL = 1 << 7,     /* the hook runs in syscall `syscall` */
	KS_DENY_F_RDEV_MAJOR = 1 << 8,  /* the object is a device of major rdev_major */
	KS_DENY_F_RDEV_MINOR = 1 << 9,  /* ... and minor rdev_minor */
	KS_DENY_F_DEVICE_KIND = 1 << 10, /* the object's file type is device_kind's (S_IFCHR/S_IFBLK) */
	KS_DENY_F_UNLINKED = 1 << 11,   /* the object has no link left (deleted, memfd) */
	KS_DENY_F_FSTYPE = 1 << 12,     /* mount: the file system type is `path` */
	KS_DENY_F_FS_MAGIC = 1 << 13,   /* the object's file system is fs_magic */
	KS_DENY_F_ALLOW = 1 << 14,      /* an exception: when it matches, the rule's further entries
	                                 * are skipped (a rule's allow entries come first) */
	KS_DENY_F_MOUNT_SOURCE = 1 << 15, /* mount: the path is the source only */
	KS_DENY_F_MOUNT_TARGET = 1 << 16, /* mount: the path is the target only */
};

/* One entry is for one LSM hook (`type`); entries of a hook are contiguous in a bank and
 * deny_ranges_map says where, so a hook only walks its own entries. */
struct ks_deny_rule {
	__u64 cgroup_id;
	__u64 arg_value;
	__u32 uid;
	__u32 flags;       /* enum ks_deny_flags */
	__u32 rule_id;     /* user space's index of the rule; denied records carry it in arg[3] */
	__u32 rdev_major;
	__u32 rdev_minor;
	__u32 fs_magic;
	__s32 syscall;
	__u16 type;        /* the LSM event type (enum ks_event_type) this entry is for */
	__u16 path_len;    /* bytes of path compared (without the NUL) */
	__u8 arg_index;    /* 0..3 */
	__u8 device_kind;  /* 'c' or 'b' with KS_DENY_F_DEVICE_KIND */
	__u8 _pad[6];
	char comm[KS_COMM_LEN];
	char path[KS_DENY_PATH_LEN];
};

/* deny_ranges_map[bank * KS_EVT_MAX + type]: the entries of hook `type` in that bank. */
struct ks_deny_range {
	__u16 start;
	__u16 count;
};

/* The active deny set, one word so a reader never sees a half-switched set:
 * bit 31 = bank, low 16 bits = entries in it. */
#define KS_DENY_BANK_BIT (1u << 31)

/* Values in agent_tgids_map. A launcher is a process the agent forked to start a container
 * process: it runs agent code until its first execve, and the workload from then on. */
#define KS_AGENT_SELF 1
#define KS_AGENT_LAUNCHER 2

struct guest_lsm_cfg {
	__u32 protect_agent;  /* deny ptrace of and signals to agent tgids from other tasks */
	__u32 report_agent;   /* also emit records for the agent's own tasks (marked KS_F_AGENT) */
	__u32 wakeup_bytes;   /* see syscall_probes_cfg */
	__u32 _pad;
};

#endif
