/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one definition of the records that kata-sentry BPF programs (host and guest)
 * write into their ring buffers, and of the maps user space shares with them.
 *
 * Included by BPF C after vmlinux.h, and by C++ after <linux/types.h>. Every field is
 * fixed width, padding is explicit, and enum values are fixed: the C++ side checks
 * sizes and offsets with static_asserts (core/event_abi_check.cpp). Bump
 * KS_EVENT_ABI_VERSION on any change; decoders reject records of another version.
 */
#ifndef KATA_SENTRY_EVENT_ABI_H
#define KATA_SENTRY_EVENT_ABI_H

#define KS_EVENT_ABI_VERSION 2

#define KS_COMM_LEN 16
#define KS_PATH_LEN 256   /* one path; longer paths are cut and flagged KS_F_TRUNCATED */
#define KS_ARGV_LEN 512   /* NUL-separated argv; at most KS_ARGV_MAX_ARGS arguments */
#define KS_ARGV_MAX_ARGS 16
#define KS_MAX_CGROUP_DEPTH 8 /* ancestor levels checked by the cgroup scope */

/* Event types. Values are part of the ABI: never renumber, only append. */
enum ks_event_type {
	KS_EVT_NONE = 0,
	/* process */
	KS_EVT_EXECVE = 1,
	KS_EVT_EXECVEAT = 2,
	KS_EVT_CLONE = 3,   /* fork/vfork/clone/clone3, reported from sched_process_fork */
	KS_EVT_EXIT = 4,    /* process (thread group leader) exit; res = exit status */
	/* files */
	KS_EVT_OPENAT = 10,
	KS_EVT_OPENAT2 = 11,
	KS_EVT_UNLINKAT = 12, /* unlink and unlinkat */
	KS_EVT_RENAMEAT = 13, /* rename, renameat, renameat2; path2 = new path */
	KS_EVT_CHMOD = 14,    /* chmod, fchmodat */
	KS_EVT_MKNODAT = 15,  /* mknod, mknodat; arg[0] = mode, arg[1] = dev */
	KS_EVT_OPEN = 16,     /* legacy open(2) */
	/* network */
	KS_EVT_SOCKET = 20,   /* arg[0] = domain, arg[1] = type, arg[2] = protocol */
	KS_EVT_CONNECT = 21,  /* addr = destination */
	KS_EVT_BIND = 22,     /* addr = local address */
	KS_EVT_LISTEN = 23,   /* arg[0] = fd, arg[1] = backlog */
	KS_EVT_ACCEPT = 24,   /* accept, accept4; res = new fd */
	/* other security-relevant syscalls */
	KS_EVT_PTRACE = 30,   /* arg[0] = request, arg[1] = target pid */
	KS_EVT_MOUNT = 31,    /* path = source, path2 = target, arg[0] = flags; fstype in argv */
	KS_EVT_UMOUNT = 32,   /* path = target, arg[0] = flags */
	KS_EVT_SETNS = 33,    /* arg[0] = fd, arg[1] = nstype */
	KS_EVT_UNSHARE = 34,  /* arg[0] = flags */
	KS_EVT_INIT_MODULE = 35,
	KS_EVT_FINIT_MODULE = 36, /* arg[0] = fd, arg[1] = flags */
	KS_EVT_BPF = 37,      /* arg[0] = cmd */
	KS_EVT_KILL = 38,     /* kill, tkill, tgkill; arg[0] = target pid, arg[1] = signal */
	KS_EVT_MEMFD_CREATE = 39, /* path = name, arg[0] = flags */
	/* Types Falco's stable rules watch; no probe emits them yet */
	KS_EVT_SYMLINKAT = 40, /* symlink, symlinkat; path = target, path2 = linkpath */
	KS_EVT_LINKAT = 41,    /* link, linkat; path = oldpath, path2 = newpath, arg[0] = flags */
	KS_EVT_DUP = 42,       /* dup, dup2, dup3; arg[0] = oldfd, arg[1] = newfd; res = new fd */
	KS_EVT_SENDTO = 43,    /* sendto, sendmsg; arg[0] = fd, arg[1] = size; addr = destination */
	/* LSM-level events (guest probes, or hosts with BPF LSM) */
	KS_EVT_LSM_FILE_OPEN = 50,
	KS_EVT_LSM_BPRM_CHECK = 51,
	KS_EVT_LSM_KERNEL_READ_FILE = 52,
	KS_EVT_LSM_MODULE_REQUEST = 53,
	KS_EVT_LSM_PTRACE_ACCESS = 54,
	KS_EVT_LSM_BPF = 55,
	KS_EVT_LSM_TASK_KILL = 56,
	KS_EVT_LSM_SOCKET_CONNECT = 57,
	KS_EVT_LSM_INODE_MKNOD = 58,
	KS_EVT_LSM_SB_MOUNT = 59,
	/* Refusals by the host cgroup programs (host-probes/bpf/host_deny.bpf.c): always
	 * KS_F_DENIED | KS_F_HAS_RES with res = -EPERM, and arg[3] = the rule id. */
	KS_EVT_CGROUP_CONNECT = 60, /* connect4/6, sendmsg4/6; addr = destination,
	                             * arg[0] = enum ks_cgroup_hook, arg[1] = socket type */
	KS_EVT_CGROUP_DEVICE = 61,  /* dev; arg[0] = access_type as the kernel passes it
	                             * (BPF_DEVCG_DEV_* | BPF_DEVCG_ACC_* << 16),
	                             * arg[1] = major, arg[2] = minor */
	KS_EVT_MAX = 64,
};

/* Which cgroup hook refused a KS_EVT_CGROUP_CONNECT. Values are ABI. */
enum ks_cgroup_hook {
	KS_CG_CONNECT4 = 1,
	KS_CG_CONNECT6 = 2,
	KS_CG_SENDMSG4 = 3,
	KS_CG_SENDMSG6 = 4,
};

/* Record flags. */
enum ks_event_flags {
	KS_F_TRUNCATED = 1 << 0,   /* a path or argv was cut to fit */
	KS_F_DENIED = 1 << 1,      /* an enforcement program refused the operation */
	KS_F_AGENT = 1 << 2,       /* the task is marked as the agent's own (guest) */
	KS_F_HAS_RES = 1 << 3,     /* res holds the syscall result (enter/exit paired) */
	KS_F_ARGV_MORE = 1 << 4,   /* argv had more than KS_ARGV_MAX_ARGS arguments */
};

/* Who did it: filled for every record. */
struct ks_proc_ctx {
	__u32 pid;        /* thread group id, as user space calls a pid */
	__u32 tid;
	__u32 ppid;       /* real parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 loginuid;   /* audit login uid; (u32)-1 when unset */
	__u64 cgroup_id;  /* cgroup v2 id of the task */
	__u32 pid_ns;     /* inode number of the pid namespace */
	__u32 mnt_ns;     /* inode number of the mount namespace */
	char comm[KS_COMM_LEN];
};

struct ks_sockaddr {
	__u16 family;     /* AF_INET, AF_INET6, AF_UNIX, AF_VSOCK, ... */
	__u16 port;       /* host byte order; vsock: low 16 bits of the port */
	__u32 vsock_cid;  /* AF_VSOCK only */
	__u8 addr[16];    /* IPv4 in the first 4 bytes, or IPv6; AF_UNIX: not used */
};

struct ks_event_header {
	__u16 abi_version; /* KS_EVENT_ABI_VERSION */
	__u16 type;        /* enum ks_event_type */
	__u16 flags;       /* enum ks_event_flags */
	__u16 argc;        /* number of NUL-terminated strings in argv[] */
	__u64 ts_ns;       /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
};

struct ks_event {
	struct ks_event_header hdr;
	struct ks_proc_ctx proc;
	__s64 res;          /* syscall result when KS_F_HAS_RES; exit: exit status (wait(2) form) */
	__u64 arg[4];       /* type-specific numbers, see enum ks_event_type */
	struct ks_sockaddr addr;
	__u16 path_len;     /* bytes used in path incl. NUL, 0 when absent */
	__u16 path2_len;
	__u16 argv_len;     /* bytes used in argv */
	__u16 _pad0;
	__u32 _pad1;
	__u32 _pad2;
	char path[KS_PATH_LEN];   /* file path, exec filename, mount source, memfd name */
	char path2[KS_PATH_LEN];  /* rename target, mount target */
	char argv[KS_ARGV_LEN];   /* exec argv (NUL-separated), mount fstype */
};

/* Counters the probes keep in a per-CPU array map `stats_map`, indexed by these. */
enum ks_stat {
	KS_STAT_EVENTS = 0,        /* records submitted */
	KS_STAT_RINGBUF_DROPS = 1, /* bpf_ringbuf_output failed: ring buffer full */
	KS_STAT_PENDING_DROPS = 2, /* enter/exit pairing table full */
	KS_STAT_READ_ERRORS = 3,   /* a user/kernel read failed; record sent with what was read */
	KS_STAT_DENIED = 4,        /* enforcement refusals */
	KS_STAT_MAX = 8,
};

/* Scope configuration: when scope_enabled is set, only tasks whose tgid is in
 * watched_tgids_map, or whose cgroup (or an ancestor up to KS_MAX_CGROUP_DEPTH) is in
 * watched_cgroups_map, produce records. Children of watched tgids are added on fork. */
struct ks_scope_cfg {
	__u32 scope_enabled;
	__u32 follow_children;
};

#endif /* KATA_SENTRY_EVENT_ABI_H */
