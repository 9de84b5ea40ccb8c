/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who is acting: fills struct ks_proc_ctx (and the header's version and time) for the
 * current task, and what an inode is (struct ks_file_id). Shared by every kata-sentry BPF program (host probes, guest LSM) so that
 * all records describe a process the same way. Include after vmlinux.h, bpf_helpers.h,
 * bpf_core_read.h and kata_sentry/event_abi.h.
 */
#ifndef KATA_SENTRY_TASK_CONTEXT_BPF_H
#define KATA_SENTRY_TASK_CONTEXT_BPF_H

/* Credentials: ids and capability sets. Split out so that an exec record can take the new
 * image's (a setuid binary or file capabilities change them). */
static __always_inline void fill_creds(struct ks_event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 uid_gid = bpf_get_current_uid_gid();
	const struct cred *cred;

	e->proc.uid = (__u32)uid_gid;
	e->proc.gid = uid_gid >> 32;
	/* kernel_cap_t is u32[2] before 6.3 and one u64 after: the same 8 bytes either way. */
	cred = BPF_CORE_READ(task, cred);
	if (cred) {
		bpf_core_read(&e->proc.cap_effective, sizeof(__u64), &cred->cap_effective);
		bpf_core_read(&e->proc.cap_permitted, sizeof(__u64), &cred->cap_permitted);
		bpf_core_read(&e->proc.cap_inheritable, sizeof(__u64), &cred->cap_inheritable);
	}
}

/* The cheap part of fill_proc(): what a record is judged by before the rest is worth reading
 * (time, ids, comm). */
static __always_inline void fill_proc_head(struct ks_event *e)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	e->hdr.abi_version = KS_EVENT_ABI_VERSION;
	e->hdr.ts_ns = bpf_ktime_get_boot_ns();
	e->proc.pid = pid_tgid >> 32;
	e->proc.tid = (__u32)pid_tgid;
	bpf_get_current_comm(e->proc.comm, sizeof(e->proc.comm));
}

/* The rest: credentials, parent, login uid, cgroup, namespaces (kernel reads). */
static __always_inline void fill_proc_rest(struct ks_event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pid *tp;
	struct upid up = {};
	unsigned int level;

	fill_creds(e);
	e->proc.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->proc.loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		e->proc.loginuid = BPF_CORE_READ(task, loginuid.val);
	e->proc.cgroup_id = bpf_get_current_cgroup_id();
	e->proc.mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	/* The task's own pid namespace is the one at its pid's deepest level;
	 * nsproxy->pid_ns_for_children differs after unshare(CLONE_NEWPID). */
	tp = BPF_CORE_READ(task, thread_pid);
	if (tp) {
		level = BPF_CORE_READ(tp, level);
		bpf_core_read(&up, sizeof(up), &tp->numbers[level & 31]);
		if (up.ns)
			e->proc.pid_ns = BPF_CORE_READ(up.ns, ns.inum);
	}
}

static __always_inline void fill_proc(struct ks_event *e)
{
	fill_proc_head(e);
	fill_proc_rest(e);
}

/* The identity of an inode (struct ks_file_id): for the LSM hooks, which hold one. */
static __always_inline void fill_file_id(struct ks_event *e, const struct inode *inode)
{
	if (!inode)
		return;
	e->file.ino = BPF_CORE_READ(inode, i_ino);
	e->file.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->file.rdev = BPF_CORE_READ(inode, i_rdev);
	e->file.mode = BPF_CORE_READ(inode, i_mode);
	e->file.nlink = BPF_CORE_READ(inode, i_nlink);
	e->file.magic = BPF_CORE_READ(inode, i_sb, s_magic);
}

#endif /* KATA_SENTRY_TASK_CONTEXT_BPF_H */
