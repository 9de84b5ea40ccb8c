/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The read-only config of syscall_probes.bpf.c (`cfg`), shared with the loader: the
 * skeleton names this type. Include after vmlinux.h (BPF) or <linux/types.h> (C++). */
#ifndef KATA_SENTRY_HOST_PROBES_CFG_H
#define KATA_SENTRY_HOST_PROBES_CFG_H

#include "kata_sentry/event_abi.h"

struct syscall_probes_cfg {
	struct ks_scope_cfg scope;
	__u32 self_tgid; /* the loader itself: never traced, or it would trace its own reads */
	/* A busy consumer (records already queued) is woken only once this much is queued: a
	 * wakeup per record costs more than the record itself. An idle one is woken by the
	 * first record. The consumer also drains on its poll timeout. */
	__u32 wakeup_bytes;
};

#endif
