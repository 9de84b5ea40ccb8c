// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Guest LSM probes: BPF LSM programs in the guest kernel that report security-relevant
 * operations as struct ks_event records (KS_EVT_LSM_*) and refuse those that match the
 * deny set. Deciding at the LSM hook means the operation never happens: the caller gets
 * -EPERM from the syscall, unlike a signal sent from a tracepoint.
 *
 * The agent registers its own tgid in agent_tgids_map (only user space and these programs
 * write that map, so a workload cannot make itself the agent by its name). Processes the
 * agent forks are marked as launchers until their first execve (the launcher's setup is
 * agent code; what it execs is the workload). Agent tasks are never denied,
 * and ptrace of or signals to the agent from other tasks are refused when
 * cfg.protect_agent is set.
 *
 * The deny set lives in two banks of deny_rules_map; deny_active names the bank and the
 * number of entries in one word, so user space writes the idle bank and then switches.
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
#include "bpf/guest_lsm_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct guest_lsm_cfg cfg = {};

/* Bank bit and entry count of the active deny set (see guest_lsm_abi.h). */
volatile __u32 deny_active = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} agent_tgids_map SEC(".maps");

/* When each launcher exec'd (boot ns): user space uses it to tell the launcher's records
 * from the workload's in the other (tracepoint) ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, __u64);
} launcher_exec_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_DENY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct ks_deny_rule);
} deny_rules_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_EVT_MAX);
	__type(key, __u32);
	__type(value, struct ks_deny_range);
} deny_ranges_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_event);
} scratch_map SEC(".maps");

/* Never written: the source for clearing a record. */
const volatile struct ks_event zero_event = {};

static __always_inline bool is_agent_tgid(__u32 tgid)
{
	return bpf_map_lookup_elem(&agent_tgids_map, &tgid) != NULL;
}

static __always_inline bool current_is_agent(void)
{
	return is_agent_tgid(bpf_get_current_pid_tgid() >> 32);
}

#define PF_IO_WORKER 0x00000010

/* True when no consumer wants this hook's records and the active deny set has no entry for
 * it: nothing to decide and nothing to report, so no record is built. */
static __always_inline bool hook_unused(__u32 type)
{
	__u32 active = deny_active;
	__u32 ridx;
	struct ks_deny_range *range;

	if (type_is_wanted(type))
		return false;
	if (active & 0xffff) {
		ridx = ((active & KS_DENY_BANK_BIT) ? KS_EVT_MAX : 0) + (type & (KS_EVT_MAX - 1));
		range = bpf_map_lookup_elem(&deny_ranges_map, &ridx);
		if (range && range->count)
			return false;
	}
	count(KS_STAT_FILTERED);
	return true;
}

/* A zeroed record for the current task with its process context filled, and the syscall the
 * hook runs in: which syscall reached an object (open_by_handle_at's open, io_uring_enter's)
 * is something rules and the deny set can tell apart. NULL when nobody can use it
 * (hook_unused); the hooks that refuse attacks on the agent whatever the rules say (ptrace,
 * signals) always build theirs. */
static __always_inline struct ks_event *begin(__u16 type, bool agent)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs;
	__u32 zero = 0;
	struct ks_event *e;

	if (type != KS_EVT_LSM_PTRACE_ACCESS && type != KS_EVT_LSM_TASK_KILL && hook_unused(type))
		return NULL;
	e = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!e)
		return NULL;
	bpf_probe_read_kernel(e, sizeof(*e), (const void *)&zero_event);
	e->hdr.type = type;
	fill_proc(e);
	if (agent)
		e->hdr.flags |= KS_F_AGENT;
	e->hdr.flags |= KS_F_HAS_SYSCALL;
	if (task->flags & PF_IO_WORKER) {
		e->hdr.flags |= KS_F_IO_WORKER;
		e->syscall = -1;
	} else {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		e->syscall = regs ? (__s32)BPF_CORE_READ(regs, orig_ax) : -1;
	}
	return e;
}

static __always_inline void set_kernel_str(char *dst, __u16 *len, const char *src)
{
	long n;

	if (!src)
		return;
	n = bpf_probe_read_kernel_str(dst, KS_PATH_LEN, src);
	if (n > 0)
		*len = n;
	else
		count(KS_STAT_READ_ERRORS);
}

static __always_inline void set_d_path(char *dst, __u16 *len, const struct path *path)
{
	/* bpf_d_path takes a non-const pointer but does not write through it. */
	long n = bpf_d_path((struct path *)path, dst, KS_PATH_LEN);

	if (n > 0)
		*len = n;
	else
		count(KS_STAT_READ_ERRORS);
}

/* --- deny set ------------------------------------------------------------------- */

struct match_ctx {
	struct ks_event *ev;
	__u64 cgroups[KS_MAX_CGROUP_DEPTH + 1]; /* own cgroup, then ancestors from level 1 */
	__u32 base;
	__s32 hit;       /* rule_id of the first match, -1 when none */
	__s32 skip_rule; /* a rule an exception (allow entry) matched: its entries are skipped */
};

/* Compares the first n bytes of a and b a word at a time, in a bpf_loop callback: every LSM
 * program carries the deny walk, and a compare loop inlined at its three call sites made the
 * verifier walk every step of it in every state that reached it (a byte loop: ~15k of each
 * program's instructions, seconds of guest start-up under TCG); a callback body is checked
 * once per state reaching the call, whatever the loop count (~1.8k instructions in all).
 * Both buffers are 8-aligned (asserted below). Little-endian: a word's first bytes are its low
 * bits, so the last, partial word is masked to its low (n - off) bytes. */
struct prefix_cmp {
	const char *a;
	const char *b;
	__u32 n;
	bool equal;
};

static long compare_word(__u32 i, void *data)
{
	struct prefix_cmp *c = data;
	__u64 off = (__u64)i * 8;
	__u64 diff;

	/* Bounds the offset itself (not i): the verifier must see the register it adds. */
	if (off > KS_DENY_PATH_LEN - 8 || off >= c->n)
		return 1;
	diff = *(const __u64 *)(c->a + off) ^ *(const __u64 *)(c->b + off);
	if (c->n - off < 8)
		diff &= (1ULL << ((c->n - off) * 8)) - 1;
	if (diff) {
		c->equal = false;
		return 1;
	}
	return 0;
}

/* The first n bytes of a and b are equal; only the first KS_DENY_PATH_LEN count. */
static __always_inline bool prefix_equal(const char *a, const char *b, __u32 n)
{
	struct prefix_cmp c = { .a = a, .b = b, .n = n, .equal = true };

	bpf_loop((n + 7) / 8, compare_word, &c, 0);
	return c.equal;
}
_Static_assert(__builtin_offsetof(struct ks_event, path) % 8 == 0 &&
		       __builtin_offsetof(struct ks_event, path2) % 8 == 0 &&
		       __builtin_offsetof(struct ks_event, argv) % 8 == 0 &&
		       __builtin_offsetof(struct ks_deny_rule, path) % 8 == 0,
	       "compare_word() reads these a word at a time");
_Static_assert(KS_DENY_PATH_LEN % 8 == 0 && KS_PATH_LEN >= KS_DENY_PATH_LEN &&
		       KS_ARGV_LEN >= KS_DENY_PATH_LEN,
	       "compare_word() reads KS_DENY_PATH_LEN bytes of a record's path, path2 or argv");

static __always_inline bool path_matches(const struct ks_deny_rule *r, const char *p, __u16 plen)
{
	__u32 n = r->path_len;

	if (!plen)
		return false;
	/* plen counts the NUL: an exact match has exactly n bytes before it. */
	if ((r->flags & (KS_DENY_F_PATH_EXACT | KS_DENY_F_FSTYPE)) && plen != n + 1)
		return false;
	if (plen < n + 1)
		return false;
	return prefix_equal(p, r->path, n);
}

#define S_IFMT 0170000
#define S_IFCHR 0020000
#define S_IFBLK 0060000

/* What only some hooks' records carry: the object (file identity), an argument, the syscall. */
static __always_inline bool object_matches(const struct ks_deny_rule *r, const struct ks_event *e)
{
	__u32 flags = r->flags;

	if ((flags & KS_DENY_F_SYSCALL) &&
	    (!(e->hdr.flags & KS_F_HAS_SYSCALL) || e->syscall != r->syscall))
		return false;
	if (flags & (KS_DENY_F_ARG_EQ | KS_DENY_F_ARG_ANY_BIT)) {
		__u64 v = e->arg[r->arg_index & 3];

		if ((flags & KS_DENY_F_ARG_EQ) && v != r->arg_value)
			return false;
		if ((flags & KS_DENY_F_ARG_ANY_BIT) && !(v & r->arg_value))
			return false;
	}
	if ((flags & KS_DENY_F_DEVICE_KIND) &&
	    (e->file.mode & S_IFMT) != (r->device_kind == 'b' ? S_IFBLK : S_IFCHR))
		return false;
	if ((flags & KS_DENY_F_RDEV_MAJOR) && (e->file.rdev >> 20) != r->rdev_major)
		return false;
	if ((flags & KS_DENY_F_RDEV_MINOR) && (e->file.rdev & 0xfffff) != r->rdev_minor)
		return false;
	if ((flags & KS_DENY_F_UNLINKED) && (!e->file.mode || e->file.nlink != 0))
		return false;
	if ((flags & KS_DENY_F_FS_MAGIC) && e->file.magic != r->fs_magic)
		return false;
	return true;
}

static long match_one(__u32 i, void *data)
{
	struct match_ctx *m = data;
	struct ks_event *e = m->ev;
	__u32 idx = m->base + i;
	struct ks_deny_rule *r = bpf_map_lookup_elem(&deny_rules_map, &idx);

	if (!r)
		return 1;
	if ((__s32)r->rule_id == m->skip_rule)
		return 0;
	if ((r->flags & KS_DENY_F_UID) && r->uid != e->proc.uid)
		return 0;
	if (r->flags & KS_DENY_F_COMM) {
		for (int k = 0; k < KS_COMM_LEN; k++) {
			if (r->comm[k] != e->proc.comm[k])
				return 0;
			if (!r->comm[k])
				break;
		}
	}
	if (r->flags & KS_DENY_F_CGROUP) {
		bool in = false;

		for (int k = 0; k <= KS_MAX_CGROUP_DEPTH; k++) {
			if (m->cgroups[k] && m->cgroups[k] == r->cgroup_id) {
				in = true;
				break;
			}
		}
		if (!in)
			return 0;
	}
	if (!object_matches(r, e))
		return 0;
	if (r->flags & KS_DENY_F_FSTYPE) {
		/* A mount's file system type is in argv (one string). */
		if (!path_matches(r, e->argv, e->argv_len))
			return 0;
	} else if (r->flags & (KS_DENY_F_PATH_EXACT | KS_DENY_F_PATH_PREFIX)) {
		/* A mount rule names the source, the target, or either (fd.name). */
		bool src = !(r->flags & KS_DENY_F_MOUNT_TARGET) && path_matches(r, e->path, e->path_len);
		bool dst = !(r->flags & KS_DENY_F_MOUNT_SOURCE) && e->hdr.type == KS_EVT_LSM_SB_MOUNT &&
			   path_matches(r, e->path2, e->path2_len);

		if (!src && !dst)
			return 0;
	}
	if (r->flags & KS_DENY_F_ALLOW) {
		m->skip_rule = r->rule_id;
		return 0;
	}
	m->hit = r->rule_id;
	return 1; /* stop: the first match decides */
}

/* -1 when nothing in the active deny set matches, else the matching rule's id. Only the
 * entries of this record's hook are walked (deny_ranges_map). */
static __always_inline __s32 match_deny(struct ks_event *e)
{
	__u32 active = deny_active;
	__u32 bank = (active & KS_DENY_BANK_BIT) ? 1 : 0;
	__u32 ridx = bank * KS_EVT_MAX + (e->hdr.type & (KS_EVT_MAX - 1));
	struct ks_deny_range *range = bpf_map_lookup_elem(&deny_ranges_map, &ridx);
	struct match_ctx m = {};
	__u32 n;

	if (!(active & 0xffff) || !range || !range->count)
		return -1;
	n = range->count;
	if (n > KS_DENY_MAX_RULES)
		n = KS_DENY_MAX_RULES;
	m.ev = e;
	m.base = bank * KS_DENY_MAX_RULES + range->start;
	m.hit = -1;
	m.skip_rule = -1;
	m.cgroups[0] = e->proc.cgroup_id;
	for (int level = 1; level <= KS_MAX_CGROUP_DEPTH; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			break;
		m.cgroups[level] = id;
	}
	bpf_loop(n, match_one, &m, 0);
	return m.hit;
}

static __always_inline void emit(struct ks_event *e)
{
	__u64 flags = 0;
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	/* As syscall_probes' submit_bytes(): the first record after idle wakes the reader
	 * (flags 0), later ones only past wakeup_bytes. */
	if (cfg.wakeup_bytes && queued && queued < cfg.wakeup_bytes)
		flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags))
		count(KS_STAT_RINGBUF_DROPS);
	else
		count(KS_STAT_EVENTS);
}

/*
 * Decides and reports. `enforce`: the hook is one the deny set applies to; `forced`: the
 * operation is refused regardless of rules (an attack on the agent). Agent tasks are
 * never refused.
 */
/* The in-kernel decision on e: 0, or -EPERM (then e says so, KS_F_DENIED). */
static __always_inline int decide(struct ks_event *e, bool agent, bool enforce, bool forced)
{
	if (!agent) {
		__s32 hit = enforce ? match_deny(e) : -1;

		if (hit >= 0 || forced) {
			e->hdr.flags |= KS_F_DENIED;
			e->arg[3] = hit >= 0 ? (__u64)hit : (__u64)-1;
			count(KS_STAT_DENIED);
			return -EPERM;
		}
	}
	return 0;
}

static __always_inline int finish(struct ks_event *e, bool agent, bool enforce, bool forced)
{
	int ret = decide(e, agent, enforce, forced);

	if (!agent || cfg.report_agent)
		emit(e);
	return ret;
}

/* --- hooks ------------------------------------------------------------------------ */

SEC("lsm/file_open")
int BPF_PROG(handle_file_open, struct file *file, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;
	int verdict;

	if (ret)
		return ret;
	/* The agent opens files all the time; its opens are neither denied nor reported. */
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_FILE_OPEN, agent);
	if (!e)
		return 0;
	set_d_path(e->path, &e->path_len, &file->f_path);
	fill_file_id(e, BPF_CORE_READ(file, f_inode));
	e->arg[0] = BPF_CORE_READ(file, f_flags);
	e->arg[1] = BPF_CORE_READ(file, f_mode);
	verdict = decide(e, agent, true, false);
	/* Opens are most of what a workload does: one that no rule's path or comm condition can
	 * match (field_filters.bpf.h) is not sent, unless it was refused. Only here: the other
	 * hooks are rare, and each bpf_loop call site costs the verifier again. */
	if ((!agent || cfg.report_agent) && (verdict || fields_wanted(e)))
		emit(e);
	return verdict;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 launcher = KS_AGENT_LAUNCHER;

	if (ptgid == ctgid || !is_agent_tgid(ptgid))
		return 0; /* a thread, or not forked by agent code */
	bpf_map_update_elem(&agent_tgids_map, &ctgid, &launcher, BPF_ANY);
	return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(handle_bprm_check_security, struct linux_binprm *bprm, int ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 *mark = bpf_map_lookup_elem(&agent_tgids_map, &tgid);
	bool agent = mark != NULL;
	struct ks_event *e;

	if (ret)
		return ret;
	if (mark && *mark == KS_AGENT_LAUNCHER) {
		/* The launcher execs the workload: from this check on it is not the agent. */
		__u64 now = bpf_ktime_get_boot_ns();

		bpf_map_delete_elem(&agent_tgids_map, &tgid);
		bpf_map_update_elem(&launcher_exec_map, &tgid, &now, BPF_ANY);
		agent = false;
	}
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_BPRM_CHECK, agent);
	if (!e)
		return 0;
	set_d_path(e->path, &e->path_len, &bprm->file->f_path);
	fill_file_id(e, BPF_CORE_READ(bprm, file, f_inode));
	/* What the caller asked to run (a symlink, /proc/self/fd/N for a memfd exec, ...). */
	set_kernel_str(e->path2, &e->path2_len, BPF_CORE_READ(bprm, filename));
	return finish(e, agent, true, false);
}

SEC("lsm/kernel_read_file")
int BPF_PROG(handle_kernel_read_file, struct file *file, enum kernel_read_file_id id,
	     bool contents, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_KERNEL_READ_FILE, agent);
	if (!e)
		return 0;
	if (file)
		set_d_path(e->path, &e->path_len, &file->f_path);
	e->arg[0] = id;
	e->arg[1] = contents;
	/* Which loads are refused is the rules' to say (by the syscall: finit_module, kexec_file_load). */
	return finish(e, agent, true, false);
}

SEC("lsm/kernel_module_request")
int BPF_PROG(handle_kernel_module_request, char *kmod_name, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_MODULE_REQUEST, agent);
	if (!e)
		return 0;
	set_kernel_str(e->path, &e->path_len, kmod_name);
	return finish(e, agent, true, false);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(handle_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	bool agent = current_is_agent();
	__u32 target = BPF_CORE_READ(child, tgid);
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_PTRACE_ACCESS, agent);
	if (!e)
		return 0;
	e->arg[0] = mode;
	e->arg[1] = target;
	return finish(e, agent, true, cfg.protect_agent && is_agent_tgid(target));
}

SEC("lsm/bpf")
int BPF_PROG(handle_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	/* The agent's own map updates and loads would flood the stream. */
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_BPF, agent);
	if (!e)
		return 0;
	e->arg[0] = cmd;
	return finish(e, agent, true, false);
}

SEC("lsm/task_kill")
int BPF_PROG(handle_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	__u32 target = BPF_CORE_READ(p, tgid);
	bool agent;
	struct ks_event *e;

	if (ret)
		return ret;
	/* Only signals aimed at the agent matter here; kill(2) in general is traced. */
	if (!is_agent_tgid(target))
		return 0;
	agent = current_is_agent();
	if (agent)
		return 0;
	e = begin(KS_EVT_LSM_TASK_KILL, agent);
	if (!e)
		return 0;
	e->arg[0] = target;
	e->arg[1] = sig;
	return finish(e, agent, false, cfg.protect_agent && sig != 0);
}

SEC("lsm/socket_connect")
int BPF_PROG(handle_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
	     int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;
	__u16 family;

	if (ret)
		return ret;
	family = BPF_CORE_READ(address, sa_family);
	if (family != AF_INET && family != AF_INET6 && family != AF_VSOCK)
		return 0;
	e = begin(KS_EVT_LSM_SOCKET_CONNECT, agent);
	if (!e)
		return 0;
	e->addr.family = family;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)address;

		e->addr.port = bpf_ntohs(BPF_CORE_READ(in, sin_port));
		bpf_probe_read_kernel(e->addr.addr, 4, &in->sin_addr);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;

		e->addr.port = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
		bpf_probe_read_kernel(e->addr.addr, 16, &in6->sin6_addr);
	} else {
		struct ks_sockaddr_vm vm = {};

		bpf_probe_read_kernel(&vm, sizeof(vm), address);
		e->addr.port = (__u16)vm.svm_port;
		e->addr.vsock_cid = vm.svm_cid;
		e->arg[0] = vm.svm_port; /* the full 32-bit port */
	}
	return finish(e, agent, true, false);
}

SEC("lsm/inode_mknod")
int BPF_PROG(handle_inode_mknod, struct inode *dir, struct dentry *dentry, umode_t mode,
	     dev_t dev, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_INODE_MKNOD, agent);
	if (!e)
		return 0;
	/* No struct path here, so only the new entry's name (rules cannot match paths). */
	set_kernel_str(e->path, &e->path_len, (const char *)BPF_CORE_READ(dentry, d_name.name));
	e->arg[0] = mode;
	e->arg[1] = dev;
	/* The node does not exist yet: what it will be is the mode and device asked for. */
	e->file.mode = mode;
	e->file.rdev = dev;
	return finish(e, agent, true, false);
}

SEC("lsm/sb_mount")
int BPF_PROG(handle_sb_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;
	long n;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_SB_MOUNT, agent);
	if (!e)
		return 0;
	set_kernel_str(e->path, &e->path_len, dev_name);
	set_d_path(e->path2, &e->path2_len, path);
	if (type) {
		n = bpf_probe_read_kernel_str(e->argv, KS_PATH_LEN, type);
		if (n > 0) {
			e->argv_len = n;
			e->hdr.argc = 1;
		}
	}
	e->arg[0] = flags;
	return finish(e, agent, true, false);
}

/* --- more of what an escape reaches for ------------------------------------------- */

/* init_module (an image in memory), kexec_load, firmware and policy blobs: the loads that
 * kernel_read_file does not see. */
SEC("lsm/kernel_load_data")
int BPF_PROG(handle_kernel_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_KERNEL_LOAD_DATA, agent);
	if (!e)
		return 0;
	e->arg[0] = id;
	return finish(e, agent, true, false);
}

/* An anonymous-inode file with a security context: io_uring_setup ("[io_uring]") and
 * userfaultfd ("[userfaultfd]") make theirs here, so both can be refused before they exist. */
SEC("lsm/inode_init_security_anon")
int BPF_PROG(handle_inode_init_security_anon, struct inode *inode, const struct qstr *name,
	     const struct inode *context_inode, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;
	long n;

	if (ret)
		return ret;
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_ANON_INODE, agent);
	if (!e)
		return 0;
	/* Named as /proc/<pid>/fd shows the file (and Falco's fd.name): anon_inode:[io_uring]. */
	__builtin_memcpy(e->path, "anon_inode:", 11);
	n = bpf_probe_read_kernel_str(&e->path[11], KS_PATH_LEN - 11, (const char *)BPF_CORE_READ(name, name));
	if (n > 0)
		e->path_len = 11 + n;
	return finish(e, agent, true, false);
}

SEC("lsm/perf_event_open")
int BPF_PROG(handle_perf_event_open, struct perf_event_attr *attr, int type, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	/* One record per perf_event_open: the kernel calls this hook first with
	 * PERF_SECURITY_OPEN (0), then again for the kernel/CPU permission checks of the same
	 * call, which a refusal of the first never reaches. */
	if (type != 0)
		return 0;
	e = begin(KS_EVT_LSM_PERF_EVENT_OPEN, agent);
	if (!e)
		return 0;
	e->arg[0] = BPF_CORE_READ(attr, type);
	return finish(e, agent, true, false);
}

/* Linux 6.1+: every user namespace (unshare, clone), the first step of many kernel exploits. */
SEC("lsm/userns_create")
int BPF_PROG(handle_userns_create, const struct cred *cred, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_USERNS_CREATE, agent);
	if (!e)
		return 0;
	e->arg[0] = 0x10000000; /* CLONE_NEWUSER: the record reads like unshare's (see event.cpp) */
	return finish(e, agent, true, false);
}

/* Sockets of the families an escape uses (vsock to the host, netlink, packet, ...). Unix and
 * IP sockets are everyday work: they return at once (their socket(2) record is enough). */
SEC("lsm/socket_create")
int BPF_PROG(handle_socket_create, int family, int type, int protocol, int kern, int ret)
{
	bool agent;
	struct ks_event *e;

	if (ret)
		return ret;
	if (kern || family == AF_UNIX || family == AF_INET || family == AF_INET6)
		return 0;
	agent = current_is_agent();
	if (agent && !cfg.report_agent)
		return 0;
	e = begin(KS_EVT_LSM_SOCKET_CREATE, agent);
	if (!e)
		return 0;
	e->arg[0] = family;
	e->arg[1] = type;
	e->arg[2] = protocol;
	return finish(e, agent, true, false);
}

SEC("lsm/sb_pivotroot")
int BPF_PROG(handle_sb_pivotroot, const struct path *old_path, const struct path *new_path, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	if (agent && !cfg.report_agent)
		return 0; /* the launcher pivots into every container's root */
	e = begin(KS_EVT_LSM_SB_PIVOTROOT, agent);
	if (!e)
		return 0;
	/* bpf_d_path is refused in this hook (not sleepable, not on the kernel's d_path allowlist):
	 * the records carry the directories' own names. */
	set_kernel_str(e->path, &e->path_len, (const char *)BPF_CORE_READ(new_path, dentry, d_name.name));
	set_kernel_str(e->path2, &e->path2_len, (const char *)BPF_CORE_READ(old_path, dentry, d_name.name));
	return finish(e, agent, true, false);
}

/* io_uring operations that pass their own hooks (file and socket operations submitted
 * through a ring pass file_open, socket_connect, ... above, with KS_F_IO_WORKER or the
 * io_uring_enter syscall in the record). */
SEC("lsm/uring_override_creds")
int BPF_PROG(handle_uring_override_creds, const struct cred *new, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_URING, agent);
	if (!e)
		return 0;
	e->arg[0] = 1;
	return finish(e, agent, true, false);
}

SEC("lsm/uring_sqpoll")
int BPF_PROG(handle_uring_sqpoll, int ret)
{
	bool agent = current_is_agent();
	struct ks_event *e;

	if (ret)
		return ret;
	e = begin(KS_EVT_LSM_URING, agent);
	if (!e)
		return 0;
	e->arg[0] = 2;
	return finish(e, agent, true, false);
}
