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
	__uint(max_entries, 8192);
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

/* A zeroed record for the current task, or NULL when it is out of scope. */
static __always_inline struct ks_event *begin(__u16 type)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;
	struct scratch *s;

	if (!tgid_in_scope(tgid))
		return NULL;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return NULL;
	/* Too big for an inline memset: copy from an all-zero record instead. */
	bpf_probe_read_kernel(&s->ev, sizeof(s->ev), (const void *)&zero_event);
	s->ev.hdr.type = type;
	fill_proc(&s->ev);
	return &s->ev;
}

/* Parks the record until sys_exit supplies the result. */
static __always_inline int stash(struct ks_event *e)
{
	__u32 tid = e->proc.tid;

	if (bpf_map_update_elem(&pending_map, &tid, e, BPF_ANY))
		count(KS_STAT_PENDING_DROPS);
	return 0;
}

static __always_inline void submit(struct ks_event *e)
{
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	/* An idle consumer is woken by the first record (flags 0: the kernel wakes it when it has
	 * consumed everything before this record), so a lone event costs no poll interval; a busy
	 * one is woken again only past wakeup_bytes, so a burst costs one wakeup, not one each. */
	__u64 flags = queued >= cfg.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : queued == 0 ? 0 : BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags)) {
		count(KS_STAT_RINGBUF_DROPS);
		return;
	}
	count(KS_STAT_EVENTS);
}

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
	/* Pages not faulted in yet (common right after fork): start over from the new
	 * image's stack at sched_process_exec, which only fills an empty argv. */
	e->hdr.argc = 0;
	e->argv_len = 0;
	e->hdr.flags &= ~(KS_F_TRUNCATED | KS_F_ARGV_MORE);
}

struct count_ctx {
	struct ks_event *e;
	__u64 len;
};

/* Counts into the record (map memory) rather than a stack variable: the verifier
 * tracks stack scalars exactly and would explore every count separately. */
static long count_nul(__u64 i, void *data)
{
	struct count_ctx *c = data;

	if (i >= c->len)
		return 1;
	if (c->e->argv[i & (KS_ARGV_LEN - 1)] == 0)
		c->e->hdr.argc++;
	return 0;
}

/* argv copied in one block from the new image: count its strings (bpf_loop, because an
 * open-coded 512-step loop exceeds the verifier's budget). */
static __always_inline void count_args(struct ks_event *e, __u64 len)
{
	struct count_ctx c = { .e = e, .len = len };

	e->hdr.argc = 0;
	bpf_loop(KS_ARGV_LEN, count_nul, &c, 0);
	/* A last string cut by the length bound has no NUL; the decoder stops at argv_len. */
	if (e->argv[(len - 1) & (KS_ARGV_LEN - 1)] != 0)
		e->hdr.argc++;
	if (e->hdr.argc > KS_ARGV_MAX_ARGS) {
		e->hdr.argc = KS_ARGV_MAX_ARGS;
		e->hdr.flags |= KS_F_ARGV_MORE;
	}
	e->argv_len = len;
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

/* Every exit handler is the same; one program per syscall keeps the others free. */
#define EXIT(sys) \
	SEC("tp/syscalls/sys_exit_" #sys) \
	int handle_sys_exit_##sys(struct trace_event_raw_sys_exit *ctx) { return finish_syscall(ctx); }

static __always_inline void retry_reads(struct ks_event *e, __u32 tid)
{
	struct retry_ptrs *r = bpf_map_lookup_elem(&retry_map, &tid);
	long n;

	if (!r)
		return;
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
}

static __always_inline int finish_syscall(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ks_event *e = bpf_map_lookup_elem(&pending_map, &tid);

	if (!e)
		return 0;
	e->res = ctx->ret;
	e->hdr.flags |= KS_F_HAS_RES;
	retry_reads(e, tid);
	if ((e->hdr.type == KS_EVT_EXECVE || e->hdr.type == KS_EVT_EXECVEAT) && ctx->ret == 0)
		bpf_get_current_comm(e->proc.comm, sizeof(e->proc.comm)); /* the new image's name */
	submit(e);
	bpf_map_delete_elem(&pending_map, &tid);
	return 0;
}

/* ---- process ---- */

ENTER(execve)
{
	struct ks_event *e = begin(KS_EVT_EXECVE);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_argv(e, (const char *const *)UPTR(1));
	return stash(e);
}
EXIT(execve)

ENTER(execveat)
{
	struct ks_event *e = begin(KS_EVT_EXECVEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_argv(e, (const char *const *)UPTR(2));
	e->arg[0] = IARG(0); /* dirfd */
	e->arg[1] = ARG(4); /* flags */
	return stash(e);
}
EXIT(execveat)

/*
 * A successful exec: fill what sys_enter could not read (the filename is in kernel
 * memory here, argv is on the new image's stack, which exec has just written), and
 * re-key the pending record when a non-leader thread exec'd and took over the tgid.
 */
SEC("tp/sched/sched_process_exec")
int handle_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old_tid = ctx->old_pid;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ks_event *e = bpf_map_lookup_elem(&pending_map, &old_tid);
	struct task_struct *task;
	unsigned long start, end;
	__u64 len;
	long n;

	if (!e)
		return 0;
	if (!e->path_len) {
		n = bpf_probe_read_kernel_str(e->path, sizeof(e->path),
					      (const char *)ctx + (ctx->__data_loc_filename & 0xFFFF));
		if (n > 0)
			e->path_len = n;
	}
	if (!e->hdr.argc) {
		task = (struct task_struct *)bpf_get_current_task();
		start = BPF_CORE_READ(task, mm, arg_start);
		end = BPF_CORE_READ(task, mm, arg_end);
		len = end > start ? end - start : 0;
		if (len > KS_ARGV_LEN) {
			len = KS_ARGV_LEN;
			e->hdr.flags |= KS_F_TRUNCATED;
		}
		asm volatile("%0 &= 1023" : "+r"(len));
		if (len && len <= KS_ARGV_LEN && !bpf_probe_read_user(e->argv, len, (const void *)start))
			count_args(e, len);
	}
	if (tid != old_tid) {
		bpf_map_update_elem(&pending_map, &tid, e, BPF_ANY);
		bpf_map_delete_elem(&pending_map, &old_tid);
	}
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

	e = begin(KS_EVT_CLONE);
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
	e = begin(KS_EVT_EXIT);
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
EXIT(openat)

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
EXIT(openat2)

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
EXIT(open)

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
EXIT(unlinkat)

ENTER(unlink)
{
	struct ks_event *e = begin(KS_EVT_UNLINKAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[1] = (__u64)(__s64)AT_FDCWD;
	return stash(e);
}
EXIT(unlink)

ENTER(rename)
{
	struct ks_event *e = begin(KS_EVT_RENAMEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	read_path2(e, UPTR(1));
	return stash(e);
}
EXIT(rename)

ENTER(renameat)
{
	struct ks_event *e = begin(KS_EVT_RENAMEAT);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	read_path2(e, UPTR(3));
	return stash(e);
}
EXIT(renameat)

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
EXIT(renameat2)

ENTER(chmod)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}
EXIT(chmod)

ENTER(fchmodat)
{
	struct ks_event *e = begin(KS_EVT_CHMOD);

	if (!e)
		return 0;
	read_path(e, UPTR(1));
	e->arg[0] = ARG(2);
	return stash(e);
}
EXIT(fchmodat)

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
EXIT(fchmodat2)

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
EXIT(mknod)

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
EXIT(mknodat)

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
EXIT(socket)

ENTER(connect)
{
	struct ks_event *e = begin(KS_EVT_CONNECT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	read_sockaddr(e, UPTR(1), ARG(2));
	return stash(e);
}
EXIT(connect)

ENTER(bind)
{
	struct ks_event *e = begin(KS_EVT_BIND);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	read_sockaddr(e, UPTR(1), ARG(2));
	return stash(e);
}
EXIT(bind)

ENTER(listen)
{
	struct ks_event *e = begin(KS_EVT_LISTEN);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}
EXIT(listen)

ENTER(accept)
{
	struct ks_event *e = begin(KS_EVT_ACCEPT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	return stash(e);
}
EXIT(accept)

ENTER(accept4)
{
	struct ks_event *e = begin(KS_EVT_ACCEPT);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(3);
	return stash(e);
}
EXIT(accept4)

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
EXIT(ptrace)

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
EXIT(mount)

ENTER(umount)
{
	struct ks_event *e = begin(KS_EVT_UMOUNT);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}
EXIT(umount)

ENTER(setns)
{
	struct ks_event *e = begin(KS_EVT_SETNS);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}
EXIT(setns)

ENTER(unshare)
{
	struct ks_event *e = begin(KS_EVT_UNSHARE);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	return stash(e);
}
EXIT(unshare)

ENTER(init_module)
{
	struct ks_event *e = begin(KS_EVT_INIT_MODULE);

	if (!e)
		return 0;
	e->arg[0] = ARG(1);
	return stash(e);
}
EXIT(init_module)

ENTER(finit_module)
{
	struct ks_event *e = begin(KS_EVT_FINIT_MODULE);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(2);
	return stash(e);
}
EXIT(finit_module)

ENTER(bpf)
{
	struct ks_event *e = begin(KS_EVT_BPF);

	if (!e)
		return 0;
	e->arg[0] = ARG(0);
	return stash(e);
}
EXIT(bpf)

ENTER(kill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}
EXIT(kill)

ENTER(tkill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(0);
	e->arg[1] = ARG(1);
	return stash(e);
}
EXIT(tkill)

ENTER(tgkill)
{
	struct ks_event *e = begin(KS_EVT_KILL);

	if (!e)
		return 0;
	e->arg[0] = IARG(1); /* the thread that receives the signal */
	e->arg[1] = ARG(2);
	return stash(e);
}
EXIT(tgkill)

ENTER(memfd_create)
{
	struct ks_event *e = begin(KS_EVT_MEMFD_CREATE);

	if (!e)
		return 0;
	read_path(e, UPTR(0));
	e->arg[0] = ARG(1);
	return stash(e);
}
EXIT(memfd_create)

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
	n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), bprm->filename);
	if (n > 0)
		e->path_len = n;
	submit(e);
	return 0;
}
