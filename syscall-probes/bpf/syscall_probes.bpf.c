// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host probes: one classic tracepoint per traced syscall, so that syscalls nobody
 * traces pay nothing. sys_enter builds a struct ks_event (arguments, paths, argv,
 * socket address: user memory is only reliable there) and parks it per thread in
 * pending_map; sys_exit adds the result and sends it to the `events` ring buffer.
 * Process lifecycle comes from the sched tracepoints.
 *
 * When cfg.scope.scope_enabled is set, only tgids in watched_tgids_map and tasks in a
 * watched cgroup (or below one) are traced; everything else returns after a lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kata_sentry/event_abi.h"
#include "kata_sentry/stats.bpf.h"
#include "kata_sentry/wanted_types.bpf.h"
#include "kata_sentry/field_filters.bpf.h"
#include "kata_sentry/task_context.bpf.h"
#include "kata_sentry/sockaddr_vm.bpf.h"
#include "kata_sentry/uapi_defs.bpf.h"
#include "bpf/syscall_probes_cfg.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load; constant for the verifier, so disabled scope code is pruned. */
const volatile struct syscall_probes_cfg cfg = {};

/* Number of entries in watched_cgroups_map, kept by user space: the cgroup walk is
 * skipped entirely while no cgroup is watched. */
volatile __u32 watched_cgroup_count = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192); /* resized by the loader (pending_capacity) */
	__type(key, __u32);   /* tid */
	__type(value, struct ks_event);
} pending_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);
} watched_tgids_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);   /* cgroup v2 id (inode number of the directory) */
	__type(value, __u8);
} watched_cgroups_map SEC(".maps");

/* User pointers whose read failed at sys_enter, typically because the page was not
 * faulted in yet (string literals right after fork). The syscall itself faults the page
 * in, so sys_exit reads them again. Entries live only between enter and exit. */
struct retry_ptrs {
	__u64 path;
	__u64 path2;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* tid */
	__type(value, struct retry_ptrs);
} retry_map SEC(".maps");

/* A record is ~1.2 KiB, far over the 512-byte stack; argv reads may spill past the
 * record's end (the verifier cannot prove offset + size <= KS_ARGV_LEN), hence the slack. */
struct scratch {
	struct ks_event ev;
	char slack[KS_ARGV_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* A successful exec's record with its tail (~8 KiB): built at sched_process_exec only.
 * walk_path() reads each component with a size of KS_PATH_LEN - offset, which the verifier
 * bounds by KS_PATH_LEN alone: the slack after the last path (never written, never sent) is
 * what lets it prove that the read of exe stays inside the map value. */
struct exec_scratch {
	struct ks_exec_event x;
	char slack[KS_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch_map SEC(".maps");

/* Never written: the source for clearing a record (see begin()). */
const volatile struct ks_event zero_event = {};

static __always_inline bool cgroup_in_scope(void)
{
	__u64 id = bpf_get_current_cgroup_id();

	if (bpf_map_lookup_elem(&watched_cgroups_map, &id))
		return true;
	/* Level 0 is the root; a watched cgroup also covers everything below it. */
	for (int level = 1; level <= KS_MAX_CGROUP_DEPTH; level++) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		if (bpf_map_lookup_elem(&watched_cgroups_map, &id))
			return true;
	}
	return false;
}

static __always_inline bool tgid_in_scope(__u32 tgid)
{
	if (tgid == cfg.self_tgid)
		return false;
	if (!cfg.scope.scope_enabled)
		return true;
	if (bpf_map_lookup_elem(&watched_tgids_map, &tgid))
		return true;
	return watched_cgroup_count && cgroup_in_scope();
}

/* An unwanted syscall (wanted_types.bpf.h) returns before any record is built, read or parked.
 * Process lifecycle records (exec, fork, exit) are never filtered: the user-space process
 * table lives on them (begin_lifecycle). */
static __always_inline bool type_wanted(__u32 type)
{
	if (type_is_wanted(type))
		return true;
	count(KS_STAT_FILTERED);
	return false;
}

/* A zeroed record of this type for the current task (the scope is checked by the caller).
 * Only its head (time, ids, comm) when `head_only`: stash() fills the rest once the record
 * has passed the path and comm filter (field_filters.bpf.h), so a dropped one costs no more. */
static __always_inline struct ks_event *fresh_record(__u16 type, bool head_only)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);

	if (!s)
		return NULL;
	/* Too big for an inline memset: copy from an all-zero record instead. */
	bpf_probe_read_kernel(&s->ev, sizeof(s->ev), (const void *)&zero_event);
	s->ev.hdr.type = type;
	if (head_only)
		fill_proc_head(&s->ev);
	else
		fill_proc(&s->ev);
	return &s->ev;
}

/* A zeroed record for the current task, or NULL when it is out of scope. Not filtered by
 * type: for the process lifecycle records only (see wanted_types_map). */
static __always_inline struct ks_event *begin_lifecycle(__u16 type)
{
	if (!tgid_in_scope(bpf_get_current_pid_tgid() >> 32))
		return NULL;
	return fresh_record(type, false);
}

/* As begin_lifecycle(), and NULL when no consumer wants this type; only the record's head is
 * filled (stash() or the caller fills the rest: fill_proc_rest()). The scope is checked
 * first, so the filtered counter counts only what a watched task was spared. */
static __always_inline struct ks_event *begin(__u16 type)
{
	if (!tgid_in_scope(bpf_get_current_pid_tgid() >> 32) || !type_wanted(type))
		return NULL;
	return fresh_record(type, true);
}

/* Whether a read that failed at enter may have left a pointer for sys_exit (retry_map): a path
 * not read, or the second path of the types that have one. */
static __always_inline bool may_have_retry(const struct ks_event *e)
{
	switch (e->hdr.type) {
	case KS_EVT_RENAMEAT: case KS_EVT_LINKAT: case KS_EVT_SYMLINKAT: case KS_EVT_MOUNT:
	case KS_EVT_PIVOT_ROOT: case KS_EVT_ADD_KEY: case KS_EVT_REQUEST_KEY:
		return !e->path_len || !e->path2_len;
	default:
		return !e->path_len;
	}
}

/* Parks the record until sys_exit supplies the result, unless its path or comm rules it out
 * for every consumer (field_filters.bpf.h); exec records, which the process table lives on,
 * always go. */
static __always_inline int stash(struct ks_event *e)
{
	__u32 tid = e->proc.tid;

	if (e->hdr.type != KS_EVT_EXECVE && e->hdr.type != KS_EVT_EXECVEAT && !fields_wanted(e)) {
		if (may_have_retry(e))
			bpf_map_delete_elem(&retry_map, &tid);
		return 0;
	}
	/* begin() filled only the head (execve's record is whole already: begin_lifecycle). */
	if (e->hdr.type != KS_EVT_EXECVE && e->hdr.type != KS_EVT_EXECVEAT)
		fill_proc_rest(e);
	if (bpf_map_update_elem(&pending_map, &tid, e, BPF_ANY))
		count(KS_STAT_PENDING_DROPS);
	return 0;
}

static __always_inline void submit_bytes(void *record, __u64 size)
{
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	/* An idle consumer is woken by the first record (flags 0: the kernel wakes it when it has
	 * consumed everything before this record), so a lone event costs no poll interval; a busy
	 * one is woken again only past wakeup_bytes, so a burst costs one wakeup, not one each. */
	__u64 flags = queued >= cfg.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : queued == 0 ? 0 : BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_output(&events, record, size, flags)) {
		count(KS_STAT_RINGBUF_DROPS);
		return;
	}
	count(KS_STAT_EVENTS);
}

static __always_inline void submit(struct ks_event *e) { submit_bytes(e, sizeof(*e)); }
static __always_inline void submit_exec(struct ks_exec_event *x) { submit_bytes(x, sizeof(*x)); }

static __always_inline void remember_retry(struct ks_event *e, const void *user_ptr, bool second)
{
	__u32 tid = e->proc.tid;
	struct retry_ptrs *r = bpf_map_lookup_elem(&retry_map, &tid);
	struct retry_ptrs fresh = {};

	if (!r) {
		bpf_map_update_elem(&retry_map, &tid, &fresh, BPF_ANY);
		r = bpf_map_lookup_elem(&retry_map, &tid);
		if (!r)
			return;
	}
	if (second)
		r->path2 = (__u64)user_ptr;
	else
		r->path = (__u64)user_ptr;
}

static __always_inline void read_path(struct ks_event *e, const void *user_ptr)
{
	long n;

	if (!user_ptr)
		return;
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), user_ptr);
	if (n < 0) {
		remember_retry(e, user_ptr, false);
		return;
	}
	e->path_len = n;
	if (n == sizeof(e->path))
		e->hdr.flags |= KS_F_TRUNCATED;
}

static __always_inline void read_path2(struct ks_event *e, const void *user_ptr)
{
	long n;

	if (!user_ptr)
		return;
	n = bpf_probe_read_user_str(e->path2, sizeof(e->path2), user_ptr);
	if (n < 0) {
		remember_retry(e, user_ptr, true);
		return;
	}
	e->path2_len = n;
	if (n == sizeof(e->path2))
		e->hdr.flags |= KS_F_TRUNCATED;
}

_Static_assert(KS_ARGV_LEN == 512, "read_argv masks offsets with 511");

/* argv: NUL-separated strings, at most KS_ARGV_MAX_ARGS of them in KS_ARGV_LEN bytes. */
static __always_inline void read_argv(struct ks_event *e, const char *const *uargv)
{
	__u32 off = 0;
	__u64 pos;
	const char *arg;
	long n;
	int i;

	if (!uargv)
		return;
	for (i = 0; i < KS_ARGV_MAX_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &uargv[i]))
			goto unreadable;
		if (!arg)
			break;
		if (off >= KS_ARGV_LEN) {
			e->hdr.flags |= KS_F_TRUNCATED;
			break;
		}
		/* Masked in asm: clang would drop a C mask it can prove redundant, and the
		 * verifier then cannot bound both the offset and the size from one register. */
		pos = off;
		asm volatile("%0 &= 511" : "+r"(pos));
		n = bpf_probe_read_user_str(&e->argv[pos], KS_ARGV_LEN - pos, arg);
		if (n <= 0)
			goto unreadable;
		e->hdr.argc++;
		off += n;
		if (off >= KS_ARGV_LEN && i + 1 < KS_ARGV_MAX_ARGS) {
			/* The string was cut unless it ended exactly at the buffer's end. */
			e->hdr.flags |= KS_F_TRUNCATED;
			break;
		}
	}
	if (i == KS_ARGV_MAX_ARGS) {
		if (!bpf_probe_read_user(&arg, sizeof(arg), &uargv[i]) && arg)
			e->hdr.flags |= KS_F_ARGV_MORE;
	}
	e->argv_len = off > KS_ARGV_LEN ? KS_ARGV_LEN : off;
	return;
unreadable:
	/* Pages not faulted in yet (common right after fork): a successful exec's record
	 * carries the new image's argv in its tail anyway; a failed one goes without. */
	e->hdr.argc = 0;
	e->argv_len = 0;
	e->hdr.flags &= ~(KS_F_TRUNCATED | KS_F_ARGV_MORE);
}

static __always_inline void read_sockaddr(struct ks_event *e, const void *uaddr, __u64 len)
{
	__u16 family = 0;

	if (!uaddr || len < sizeof(family))
		return;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr)) {
		count(KS_STAT_READ_ERRORS);
		return;
	}
	e->addr.family = family;
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin = {};

		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		e->addr.port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(e->addr.addr, &sin.sin_addr.s_addr, 4);
	} else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		e->addr.port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(e->addr.addr, &sin6.sin6_addr, 16);
	} else if (family == AF_VSOCK && len >= sizeof(struct ks_sockaddr_vm)) {
		struct ks_sockaddr_vm svm = {};

		bpf_probe_read_user(&svm, sizeof(svm), uaddr);
		e->addr.port = (__u16)svm.svm_port;
		e->addr.vsock_cid = svm.svm_cid;
	} else if (family == AF_UNIX) {
		/* sun_path follows the 2-byte family; abstract names start with NUL and stay empty. */
		read_path(e, (const char *)uaddr + sizeof(family));
	}
}

#define ARG(i) (ctx->args[i])
/* An int argument (fds, pids): sign-extend, so AT_FDCWD reads as -100. */
#define IARG(i) ((__u64)(__s64)(int)ctx->args[i])
#define UPTR(i) ((const void *)ctx->args[i])

#define ENTER(sys) \
	SEC("tp/syscalls/sys_enter_" #sys) \
	int handle_sys_enter_##sys(struct trace_event_raw_sys_enter *ctx)


/* True when a read failed at enter was tried again (the record's path may be new). */
static __always_inline bool retry_reads(struct ks_event *e, __u32 tid)
{
	struct retry_ptrs *r = bpf_map_lookup_elem(&retry_map, &tid);
	long n;

	if (!r)
		return false;
	if (r->path && !e->path_len) {
		n = bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)r->path);
		if (n > 0)
			e->path_len = n;
		else
			count(KS_STAT_READ_ERRORS);
	}
	if (r->path2 && !e->path2_len) {
		n = bpf_probe_read_user_str(e->path2, sizeof(e->path2), (const void *)r->path2);
		if (n > 0)
			e->path2_len = n;
		else
			count(KS_STAT_READ_ERRORS);
	}
	bpf_map_delete_elem(&retry_map, &tid);
	return true;
}

/* recvfrom/recvmsg: the kernel wrote the sender's address during the call; read it now from
 * the pointers parked at sys_enter (arg[2] = the address, arg[3] = its length's address; or
 * arg[2] = the msghdr, arg[3] = 0). Only successful receives are reported. */
static __always_inline bool finish_recv(struct ks_event *e, long ret)
{
	const void *addr = (const void *)e->arg[2];
	__u32 len = 0;

	if (ret < 0)
		return false;
	if (e->arg[3]) {
		if (bpf_probe_read_user(&len, sizeof(len), (const void *)e->arg[3]))
			len = 0;
	} else {
		struct user_msghdr m = {};

		if (!bpf_probe_read_user(&m, sizeof(m), addr)) {
			addr = m.msg_name;
			len = m.msg_namelen;
		} else {
			addr = NULL;
		}
	}
	e->arg[2] = e->arg[3] = 0;
	read_sockaddr(e, addr, len);
	return e->addr.family != 0;
}

static __always_inline int finish_syscall(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ks_event *e = bpf_map_lookup_elem(&pending_map, &tid);

	if (!e)
		return 0;
	if (e->hdr.type == KS_EVT_RECVFROM && !finish_recv(e, ctx->ret)) {
		bpf_map_delete_elem(&pending_map, &tid);
		bpf_map_delete_elem(&retry_map, &tid);
		return 0;
	}
	e->res = ctx->ret;
	e->hdr.flags |= KS_F_HAS_RES;
	/* A path read only now (its page was not in at enter) is judged now: still never sent. */
	if (retry_reads(e, tid) && e->hdr.type != KS_EVT_EXECVE && e->hdr.type != KS_EVT_EXECVEAT &&
	    !fields_wanted(e)) {
		bpf_map_delete_elem(&pending_map, &tid);
		return 0;
	}
	submit(e);
	bpf_map_delete_elem(&pending_map, &tid);
	return 0;
}

/* Every syscall's exit is the same (the record was built at enter; this adds the result and
 * ships it): one program, which user space attaches to sys_exit_<name> beside each
 * sys_enter_<name> program it attaches (syscall_probes.cpp), so the verifier checks it once and
 * not once per syscall (seconds of a guest's start under TCG). */
SEC("tp/syscalls/sys_exit")
int handle_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	return finish_syscall(ctx);
}

/* ---- process ---- */

ENTER(execve)
{
	struct ks_event *e = begin_lifecycle(KS_EVT_EXECVE);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_argv(e, (const char *const *)UPTR(1));
	return stash(e);
}

ENTER(execveat)
{
	struct ks_event *e = begin_lifecycle(KS_EVT_EXECVEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_argv(e, (const char *const *)UPTR(2));
	e->arg[0] = IARG(0); /* dirfd */
	e->arg[1] = ARG(4); /* flags */
	return stash(e);
}

_Static_assert(KS_PATH_LEN == 256, "walk_path masks offsets with 255");

struct walk_ctx {
	char *buf;                 /* KS_PATH_LEN bytes (then the scratch's slack) */
	struct dentry *dentry;     /* where the walk is */
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry; /* the task's root: the walk stops there */
	struct vfsmount *root_mnt;
	__u32 off;                 /* bytes written to buf */
	bool done;                 /* reached the root (else: cut short) */
};

/* One level of walk_path(): a bpf_loop callback, so that the verifier checks one step rather
 * than every depth with every offset (an open-coded loop exceeds its budget). */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *w = data;
	/* Local copies: BPF_CORE_READ(w->x, ...) would relocate walk_ctx's own fields too. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct mount *mnt_parent;
	struct dentry *parent;
	const unsigned char *name;
	__u64 pos;
	long n;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = true;
		return 1;
	}
	if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (!mnt_parent || mnt_parent == mnt) {
			w->done = true; /* the namespace's root (the task's root is above it) */
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}
	if (w->off >= KS_PATH_LEN)
		return 1;
	name = BPF_CORE_READ(dentry, d_name.name);
	pos = w->off;
	asm volatile("%0 &= 255" : "+r"(pos));
	n = bpf_probe_read_kernel_str(&w->buf[pos], KS_PATH_LEN - pos, name);
	if (n <= 0)
		return 1;
	w->off += n;
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		w->done = true; /* the root of a file system with no parent mount (a pipe, a memfd) */
		return 1;
	}
	w->dentry = parent;
	return 0;
}

/*
 * Writes the path from `dentry` on `vfsmnt` up to the task's root into buf, leaf first, one
 * NUL-terminated component each (see struct ks_exec_ext), crossing mount points. Stops at
 * the root, at the root of a file system with no parent mount (a pipe, a memfd: the name is
 * then the only component), or after KS_EXEC_PATH_DEPTH levels (truncated).
 */
static __always_inline void walk_path(char *buf, __u16 *len, __u32 *flags, __u32 truncated,
				      struct dentry *dentry, struct vfsmount *vfsmnt,
				      struct dentry *root_dentry, struct vfsmount *root_mnt)
{
	struct walk_ctx w = {
		.buf = buf,
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.root_dentry = root_dentry,
		.root_mnt = root_mnt,
	};

	*len = 0;
	if (!dentry || !vfsmnt)
		return;
	bpf_loop(KS_EXEC_PATH_DEPTH, walk_step, &w, 0);
	if (!w.done)
		*flags |= truncated;
	*len = w.off > KS_PATH_LEN ? KS_PATH_LEN : w.off;
}

/* A bounded copy of user memory [start, end) of the new image (argv or the environment). */
static __always_inline __u16 read_image_block(char *dst, __u32 cap, unsigned long start,
					      unsigned long end, __u32 *flags, __u32 truncated)
{
	__u64 len = end > start ? end - start : 0;

	if (len > cap) {
		len = cap;
		*flags |= truncated;
	}
	asm volatile("%0 &= 8191" : "+r"(len));
	if (!len || len > cap)
		return 0;
	if (bpf_probe_read_user(dst, len, (const void *)start)) {
		count(KS_STAT_READ_ERRORS);
		return 0;
	}
	return len;
}

/*
 * A successful exec: the record is complete here (exec cannot fail any more), so it is sent
 * now with the new image's argv, environment, working directory and executable path, which
 * only the new image has; sys_exit then finds nothing parked. A failed exec is sent by
 * sys_exit as a plain record.
 */
SEC("tp/sched/sched_process_exec")
int handle_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = ctx->old_pid;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ks_event *e = bpf_map_lookup_elem(&pending_map, &old_tid);
	struct task_struct *task;
	struct exec_scratch *sc;
	struct ks_exec_event *x;
	struct ks_exec_ext *t;
	struct fs_struct *fs;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	struct file *exe;
	struct mm_struct *mm;
	__u32 zero = 0;
	long n;

	if (!e)
		return 0;
	sc = bpf_map_lookup_elem(&exec_scratch_map, &zero);
	if (!sc)
		return 0;
	x = &sc->x;
	bpf_probe_read_kernel(&x->ev, sizeof(x->ev), e);
	bpf_map_delete_elem(&pending_map, &old_tid);
	bpf_map_delete_elem(&retry_map, &old_tid);
	if (!x->ev.path_len) {
		n = bpf_probe_read_kernel_str(x->ev.path, sizeof(x->ev.path),
					      (const char *)ctx + (ctx->__data_loc_filename & 0xFFFF));
		if (n > 0)
			x->ev.path_len = n;
	}
	/* The new image's identity: a non-leader thread that exec'd took over the tgid, a setuid
	 * binary or file capabilities changed the credentials, and comm is the new name. */
	x->ev.proc.tid = tid;
	fill_creds(&x->ev);
	bpf_get_current_comm(x->ev.proc.comm, sizeof(x->ev.proc.comm));
	x->ev.res = 0;
	x->ev.hdr.flags |= KS_F_HAS_RES;

	t = &x->x;
	t->flags = 0;
	task = (struct task_struct *)bpf_get_current_task();
	mm = BPF_CORE_READ(task, mm);
	t->args_len = read_image_block(t->args, KS_EXEC_ARGS_LEN, BPF_CORE_READ(mm, arg_start),
				       BPF_CORE_READ(mm, arg_end), &t->flags, KS_X_ARGS_TRUNCATED);
	t->env_len = read_image_block(t->env, KS_EXEC_ENV_LEN, BPF_CORE_READ(mm, env_start),
				      BPF_CORE_READ(mm, env_end), &t->flags, KS_X_ENV_TRUNCATED);
	fs = BPF_CORE_READ(task, fs);
	root_dentry = BPF_CORE_READ(fs, root.dentry);
	root_mnt = BPF_CORE_READ(fs, root.mnt);
	walk_path(t->cwd, &t->cwd_len, &t->flags, KS_X_CWD_TRUNCATED, BPF_CORE_READ(fs, pwd.dentry),
		  BPF_CORE_READ(fs, pwd.mnt), root_dentry, root_mnt);
	exe = BPF_CORE_READ(mm, exe_file);
	walk_path(t->exe, &t->exe_len, &t->flags, KS_X_EXE_TRUNCATED, BPF_CORE_READ(exe, f_path.dentry),
		  BPF_CORE_READ(exe, f_path.mnt), root_dentry, root_mnt);
	if (exe && BPF_CORE_READ(exe, f_inode, i_nlink) == 0)
		t->flags |= KS_X_EXE_DELETED;
	submit_exec(x);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	bool thread = child_tgid == parent_tgid;
	struct ks_event *e;
	__u8 one = 1;

	e = begin_lifecycle(KS_EVT_CLONE);
	if (!e)
		return 0;
	if (!thread && cfg.scope.scope_enabled && cfg.scope.follow_children &&
	    bpf_map_lookup_elem(&watched_tgids_map, &parent_tgid))
		bpf_map_update_elem(&watched_tgids_map, &child_tgid, &one, BPF_ANY);
	e->arg[0] = child->pid;
	e->arg[1] = thread ? CLONE_THREAD : 0;
	e->res = child->pid; /* what clone() returns in the parent */
	e->hdr.flags |= KS_F_HAS_RES;
	submit(e);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ks_event *e;

	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	/* A thread killed inside a syscall never reaches sys_exit: drop what it parked,
	 * or such entries would pile up until the pairing table is full. */
	bpf_map_delete_elem(&pending_map, &tid);
	bpf_map_delete_elem(&retry_map, &tid);
	/* Only the last thread ends the process; signal->live is already decremented. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	e = begin_lifecycle(KS_EVT_EXIT);
	if (e) {
		e->res = BPF_CORE_READ(task, exit_code); /* wait(2) status form */
		e->hdr.flags |= KS_F_HAS_RES;
		submit(e);
	}
	if (cfg.scope.scope_enabled)
		bpf_map_delete_elem(&watched_tgids_map, &tgid);
	return 0;
}

/* ---- files ---- */

ENTER(openat)
{
	struct ks_event *e = begin(KS_EVT_OPENAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	e->arg[1] = ARG(3);
	e->arg[2] = IARG(0);
	return stash(e);
}

ENTER(openat2)
{
	struct ks_event *e = begin(KS_EVT_OPENAT2);
	struct open_how how = {};

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	if (bpf_probe_read_user(&how, sizeof(how), UPTR(2)))
		count(KS_STAT_READ_ERRORS);
	e->arg[0] = how.flags;
	e->arg[1] = how.mode;
	e->arg[2] = IARG(0);
	e->arg[3] = how.resolve;
	return stash(e);
}

ENTER(open)
{
	struct ks_event *e = begin(KS_EVT_OPEN);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	e->arg[1] = ARG(2);
	return stash(e);
}

ENTER(unlinkat)
{
	struct ks_event *e = begin(KS_EVT_UNLINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	e->arg[1] = IARG(0);
	return stash(e);
}

ENTER(unlink)
{
	struct ks_event *e = begin(KS_EVT_UNLINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[1] = (__u64)(__s64)AT_FDCWD;
	return stash(e);
}

ENTER(rename)
{
	struct ks_event *e = begin(KS_EVT_RENAMEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	return stash(e);
}

ENTER(renameat)
{
	struct ks_event *e = begin(KS_EVT_RENAMEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_path2(e, UPTR(3));
	return stash(e);
}

ENTER(renameat2)
{
	struct ks_event *e = begin(KS_EVT_RENAMEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_path2(e, UPTR(3));
	e->arg[0] = ARG(4);
	return stash(e);
}

ENTER(chmod)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}

ENTER(fchmodat)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	return stash(e);
}

/* Linux 6.6+; the loader tolerates its absence on older kernels. */
ENTER(fchmodat2)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	return stash(e);
}

ENTER(mknod)
{
	struct ks_event *e = begin(KS_EVT_MKNODAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	e->arg[1] = ARG(2);
	return stash(e);
}

ENTER(mknodat)
{
	struct ks_event *e = begin(KS_EVT_MKNODAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	e->arg[1] = ARG(3);
	return stash(e);
}

/* ---- network ---- */

ENTER(socket)
{
	struct ks_event *e = begin(KS_EVT_SOCKET);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	e->arg[1] = ARG(1);
	e->arg[2] = ARG(2);
	return stash(e);
}

ENTER(connect)
{
	struct ks_event *e = begin(KS_EVT_CONNECT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	read_sockaddr(e, UPTR(1), ARG(2));
	return stash(e);
}

ENTER(bind)
{
	struct ks_event *e = begin(KS_EVT_BIND);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	read_sockaddr(e, UPTR(1), ARG(2));
	return stash(e);
}

ENTER(listen)
{
	struct ks_event *e = begin(KS_EVT_LISTEN);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(accept)
{
	struct ks_event *e = begin(KS_EVT_ACCEPT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	return stash(e);
}

ENTER(accept4)
{
	struct ks_event *e = begin(KS_EVT_ACCEPT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(3);
	return stash(e);
}

/* ---- other security-relevant syscalls ---- */

ENTER(ptrace)
{
	struct ks_event *e = begin(KS_EVT_PTRACE);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	e->arg[1] = IARG(1);
	return stash(e);
}

ENTER(mount)
{
	struct ks_event *e = begin(KS_EVT_MOUNT);
	long n;

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	if (UPTR(2)) {
		n = bpf_probe_read_user_str(e->argv, 64, UPTR(2));
		if (n > 0) {
			e->argv_len = n;
			e->hdr.argc = 1;
		}
	}
	e->arg[0] = ARG(3);
	return stash(e);
}

ENTER(umount)
{
	struct ks_event *e = begin(KS_EVT_UMOUNT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}

ENTER(setns)
{
	struct ks_event *e = begin(KS_EVT_SETNS);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(unshare)
{
	struct ks_event *e = begin(KS_EVT_UNSHARE);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	return stash(e);
}

ENTER(init_module)
{
	struct ks_event *e = begin(KS_EVT_INIT_MODULE);

	if (!e)
		return 0;
	e->arg[0] = ARG(1);
	return stash(e);
}

ENTER(finit_module)
{
	struct ks_event *e = begin(KS_EVT_FINIT_MODULE);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(2);
	return stash(e);
}

ENTER(bpf)
{
	struct ks_event *e = begin(KS_EVT_BPF);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	return stash(e);
}

ENTER(kill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(tkill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(tgkill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(1); /* the thread that receives the signal */
	e->arg[1] = ARG(2);
	return stash(e);
}

ENTER(memfd_create)
{
	struct ks_event *e = begin(KS_EVT_MEMFD_CREATE);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}

/* ---- files: more of Falco's types ---- */

ENTER(mkdir)
{
	struct ks_event *e = begin(KS_EVT_MKDIRAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	e->arg[1] = (__u64)(__s64)AT_FDCWD;
	return stash(e);
}

ENTER(mkdirat)
{
	struct ks_event *e = begin(KS_EVT_MKDIRAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	e->arg[1] = IARG(0);
	return stash(e);
}

ENTER(rmdir)
{
	struct ks_event *e = begin(KS_EVT_RMDIR);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	return stash(e);
}

ENTER(symlink)
{
	struct ks_event *e = begin(KS_EVT_SYMLINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	return stash(e);
}

ENTER(symlinkat)
{
	struct ks_event *e = begin(KS_EVT_SYMLINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(2));
	return stash(e);
}

ENTER(link)
{
	struct ks_event *e = begin(KS_EVT_LINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	return stash(e);
}

ENTER(linkat)
{
	struct ks_event *e = begin(KS_EVT_LINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_path2(e, UPTR(3));
	e->arg[0] = ARG(4);
	return stash(e);
}

ENTER(fchmod)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	e->arg[0] = ARG(1);
	e->arg[1] = IARG(0);
	return stash(e);
}

ENTER(creat)
{
	struct ks_event *e = begin(KS_EVT_OPEN);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = 01 | 0100 | 01000; /* creat(2) is open(O_WRONLY | O_CREAT | O_TRUNC) */
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(chroot)
{
	struct ks_event *e = begin(KS_EVT_CHROOT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	return stash(e);
}

ENTER(pivot_root)
{
	struct ks_event *e = begin(KS_EVT_PIVOT_ROOT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	return stash(e);
}

ENTER(name_to_handle_at)
{
	struct ks_event *e = begin(KS_EVT_NAME_TO_HANDLE_AT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(4);
	return stash(e);
}

ENTER(open_by_handle_at)
{
	struct ks_event *e = begin(KS_EVT_OPEN_BY_HANDLE_AT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(2);
	return stash(e);
}

/* ---- credentials ---- */

#define CRED_ENTER(sys, type, a0, a1, a2) \
	ENTER(sys) \
	{ \
		struct ks_event *e = begin(type); \
		if (!e) \
			return 0; \
		e->arg[0] = (__u32)(a0); \
		e->arg[1] = (__u32)(a1); \
		e->arg[2] = (__u32)(a2); \
		return stash(e); \
	}

CRED_ENTER(setuid, KS_EVT_SETUID, ARG(0), 0, 0)
CRED_ENTER(setgid, KS_EVT_SETGID, ARG(0), 0, 0)
CRED_ENTER(setresuid, KS_EVT_SETRESUID, ARG(0), ARG(1), ARG(2))
CRED_ENTER(setresgid, KS_EVT_SETRESGID, ARG(0), ARG(1), ARG(2))
CRED_ENTER(setreuid, KS_EVT_SETRESUID, ARG(0), ARG(1), -1)
CRED_ENTER(setregid, KS_EVT_SETRESGID, ARG(0), ARG(1), -1)

/* The new sets: two 32-bit words each (struct __user_cap_data_struct[2], version 3). */
ENTER(capset)
{
	struct ks_event *e = begin(KS_EVT_CAPSET);
	__u32 d[6] = {};

	if (!e)
		return 0;
	if (bpf_probe_read_user(d, sizeof(d), UPTR(1)))
		count(KS_STAT_READ_ERRORS);
	e->arg[0] = (__u64)d[3] << 32 | d[0]; /* effective */
	e->arg[1] = (__u64)d[4] << 32 | d[1]; /* permitted */
	e->arg[2] = (__u64)d[5] << 32 | d[2]; /* inheritable */
	return stash(e);
}

/* ---- network: addresses of datagrams ----
 * These syscalls are hot on a busy socket; only calls that carry an address (unconnected
 * datagram sockets) are traced, and a call without one returns before any record is made. */

ENTER(sendto)
{
	struct ks_event *e;

	if (!UPTR(4))
		return 0;
	e = begin(KS_EVT_SENDTO);
	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(2);
	read_sockaddr(e, UPTR(4), ARG(5));
	return stash(e);
}

ENTER(sendmsg)
{
	struct user_msghdr m = {};
	struct ks_event *e;

	if (bpf_probe_read_user(&m, sizeof(m), UPTR(1)) || !m.msg_name)
		return 0;
	e = begin(KS_EVT_SENDTO);
	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	read_sockaddr(e, m.msg_name, m.msg_namelen);
	return stash(e);
}

ENTER(recvfrom)
{
	struct ks_event *e;

	if (!UPTR(4) || !UPTR(5))
		return 0;
	e = begin(KS_EVT_RECVFROM);
	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(2);
	e->arg[2] = ARG(4); /* read at sys_exit (finish_recv) */
	e->arg[3] = ARG(5);
	return stash(e);
}

ENTER(recvmsg)
{
	struct user_msghdr m = {};
	struct ks_event *e;

	if (bpf_probe_read_user(&m, sizeof(m), UPTR(1)) || !m.msg_name)
		return 0;
	e = begin(KS_EVT_RECVFROM);
	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[2] = ARG(1); /* the msghdr, read again at sys_exit */
	return stash(e);
}

/* ---- kernel interfaces an escape reaches for ---- */

/* The file these make is named as /proc/<pid>/fd shows it (and as the guest LSM's record of
 * it is), so that one rule on fd.name matches the syscall and the hook. */
#define ANON_NAME(e, s) \
	do { \
		__builtin_memcpy((e)->path, s, sizeof(s)); \
		(e)->path_len = sizeof(s); \
	} while (0)

ENTER(userfaultfd)
{
	struct ks_event *e = begin(KS_EVT_USERFAULTFD);

	if (!e)
		return 0;
	ANON_NAME(e, "anon_inode:[userfaultfd]");
	e->arg[0] = ARG(0);
	return stash(e);
}

ENTER(perf_event_open)
{
	struct ks_event *e = begin(KS_EVT_PERF_EVENT_OPEN);
	__u32 type = 0;

	if (!e)
		return 0;
	if (bpf_probe_read_user(&type, sizeof(type), UPTR(0)))
		count(KS_STAT_READ_ERRORS);
	e->arg[0] = type; /* struct perf_event_attr starts with its type */
	e->arg[1] = IARG(1);
	e->arg[2] = IARG(2);
	e->arg[3] = ARG(4);
	return stash(e);
}

ENTER(io_uring_setup)
{
	struct ks_event *e = begin(KS_EVT_IO_URING_SETUP);
	__u32 flags = 0;

	if (!e)
		return 0;
	/* struct io_uring_params: sq_entries, cq_entries, flags, ... */
	if (bpf_probe_read_user(&flags, sizeof(flags), (const char *)UPTR(1) + 8))
		count(KS_STAT_READ_ERRORS);
	ANON_NAME(e, "anon_inode:[io_uring]");
	e->arg[0] = ARG(0);
	e->arg[1] = flags;
	return stash(e);
}

ENTER(keyctl)
{
	struct ks_event *e = begin(KS_EVT_KEYCTL);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(add_key)
{
	struct ks_event *e = begin(KS_EVT_ADD_KEY);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	e->arg[0] = IARG(4);
	return stash(e);
}

ENTER(request_key)
{
	struct ks_event *e = begin(KS_EVT_REQUEST_KEY);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	e->arg[0] = IARG(3);
	return stash(e);
}

ENTER(kexec_load)
{
	struct ks_event *e = begin(KS_EVT_KEXEC_LOAD);

	if (!e)
		return 0;
	e->arg[0] = ARG(1);
	e->arg[1] = ARG(3);
	return stash(e);
}

ENTER(kexec_file_load)
{
	struct ks_event *e = begin(KS_EVT_KEXEC_FILE_LOAD);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = IARG(1);
	e->arg[2] = ARG(4);
	return stash(e);
}

ENTER(prctl)
{
	struct ks_event *e = begin(KS_EVT_PRCTL);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}

ENTER(process_vm_readv)
{
	struct ks_event *e = begin(KS_EVT_PROCESS_VM_READV);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	return stash(e);
}

ENTER(process_vm_writev)
{
	struct ks_event *e = begin(KS_EVT_PROCESS_VM_WRITEV);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	return stash(e);
}

/*
 * Optional LSM program set: only loaded when capability detection found a working
 * BPF LSM (autoload is off by default). It reports exec checks as the kernel resolved
 * them, which the syscall tracepoints cannot see (e.g. binfmt interpreters).
 */
SEC("lsm/bprm_check_security")
int BPF_PROG(handle_lsm_bprm_check, struct linux_binprm *bprm, int ret)
{
	struct ks_event *e;
	long n;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_BPRM_CHECK);
	if (!e)
		return 0;
	fill_proc_rest(e); /* begin() filled only the head; this record is sent here, not stashed */
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), bprm->filename);
	if (n > 0)
		e->path_len = n;
	submit(e);
	return 0;
}
