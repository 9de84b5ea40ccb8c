/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared between guest_lsm.bpf.c and its loader (guest-probes/guest_sensor.cpp): the
 * read-only config `cfg` and the deny-rule entries user space writes into deny_rules_map.
 * Include after vmlinux.h (BPF) or <linux/types.h> (C++).
 */
#ifndef KATA_SENTRY_GUEST_LSM_ABI_H
#define KATA_SENTRY_GUEST_LSM_ABI_H

#include "kata_sentry/event_abi.h"

#define KS_DENY_MAX_RULES 64  /* entries per bank; deny_rules_map holds two banks */
#define KS_DENY_PATH_LEN 128  /* longest path a rule can name (incl. NUL) */

/* Which fields of struct ks_deny_rule take part; all that are set must match. */
enum ks_deny_flags {
	KS_DENY_F_UID = 1 << 0,
	KS_DENY_F_COMM = 1 << 1,
	KS_DENY_F_PATH_EXACT = 1 << 2,
	KS_DENY_F_PATH_PREFIX = 1 << 3,
	KS_DENY_F_CGROUP = 1 << 4, /* the task's cgroup or one of its ancestors is cgroup_id */
};

struct ks_deny_rule {
	__u64 type_mask;   /* 1 << enum ks_event_type, LSM types only */
	__u64 cgroup_id;
	__u32 uid;
	__u32 flags;       /* enum ks_deny_flags */
	__u32 rule_id;     /* user space's index of the rule; denied records carry it in arg[3] */
	__u16 path_len;    /* bytes of path compared (without the NUL) */
	__u16 _pad;
	char comm[KS_COMM_LEN];
	char path[KS_DENY_PATH_LEN];
};

/* The active deny set, one word so a reader never sees a half-switched set:
 * bit 31 = bank (entries [bank * KS_DENY_MAX_RULES, +count)), low 16 bits = count. */
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
