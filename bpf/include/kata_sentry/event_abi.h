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

#define KS_EVENT_ABI_VERSION 3

#define KS_COMM_LEN 16
#define KS_PATH_LEN 256   /* one path; longer paths are cut and flagged KS_F_TRUNCATED */
#define KS_ARGV_LEN 512   /* NUL-separated argv; at most KS_ARGV_MAX_ARGS arguments */
#define KS_ARGV_MAX_ARGS 16
#define KS_MAX_CGROUP_DEPTH 8 /* ancestor levels checked by the cgroup scope */
/* A successful exec's record carries the new image's argv, environment, working directory
 * and executable path in a tail (struct ks_exec_event): bounded copies, made once per exec. */
#define KS_EXEC_ARGS_LEN 4096
#define KS_EXEC_ENV_LEN 2048
#define KS_EXEC_PATH_DEPTH 32 /* directory levels walked for the cwd and executable paths */

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
	/* More syscalls, traced in both kernels */
	KS_EVT_MKDIRAT = 64,        /* mkdir, mkdirat; path, arg[0] = mode, arg[1] = dirfd */
	KS_EVT_RMDIR = 65,          /* path */
	KS_EVT_SETUID = 66,         /* arg[0] = uid */
	KS_EVT_SETGID = 67,         /* arg[0] = gid */
	KS_EVT_SETRESUID = 68,      /* setresuid, setreuid; arg[0..2] = ruid, euid, suid ((u32)-1: kept) */
	KS_EVT_SETRESGID = 69,      /* setresgid, setregid; arg[0..2] = rgid, egid, sgid */
	KS_EVT_CAPSET = 70,         /* arg[0..2] = the new effective, permitted, inheritable sets */
	KS_EVT_RECVFROM = 71,       /* recvfrom, recvmsg that ask for the sender's address (others are
	                             * not traced); arg[0] = fd, arg[1] = size; addr = the sender */
	KS_EVT_USERFAULTFD = 72,    /* arg[0] = flags; res = fd */
	KS_EVT_PERF_EVENT_OPEN = 73, /* arg[0] = attr.type, arg[1] = pid, arg[2] = cpu, arg[3] = flags */
	KS_EVT_OPEN_BY_HANDLE_AT = 74, /* arg[0] = mount fd, arg[1] = flags; res = fd */
	KS_EVT_NAME_TO_HANDLE_AT = 75, /* path, arg[0] = dirfd, arg[1] = flags */
	KS_EVT_KEYCTL = 76,         /* arg[0] = operation, arg[1] = its first argument */
	KS_EVT_ADD_KEY = 77,        /* path = key type, path2 = description, arg[0] = keyring */
	KS_EVT_REQUEST_KEY = 78,    /* path = key type, path2 = description, arg[0] = keyring */
	KS_EVT_KEXEC_LOAD = 79,     /* arg[0] = nr_segments, arg[1] = flags */
	KS_EVT_KEXEC_FILE_LOAD = 80, /* arg[0] = kernel fd, arg[1] = initrd fd, arg[2] = flags */
	KS_EVT_CHROOT = 81,         /* path */
	KS_EVT_PIVOT_ROOT = 82,     /* path = new root, path2 = where the old root goes */
	KS_EVT_PRCTL = 83,          /* arg[0] = option, arg[1] = its first argument */
	KS_EVT_PROCESS_VM_READV = 84,  /* arg[0] = target pid */
	KS_EVT_PROCESS_VM_WRITEV = 85, /* arg[0] = target pid */
	KS_EVT_IO_URING_SETUP = 86, /* arg[0] = entries, arg[1] = flags; res = fd */
	/* More LSM hooks (guest probes) */
	KS_EVT_LSM_KERNEL_LOAD_DATA = 96, /* init_module, kexec_load...: arg[0] = kernel_load_data_id */
	KS_EVT_LSM_ANON_INODE = 97,  /* an anonymous-inode file is made (io_uring_setup, userfaultfd,
	                              * ...): path = its name ("[io_uring]", "[userfaultfd]") */
	KS_EVT_LSM_PERF_EVENT_OPEN = 98, /* arg[0] = attr->type */
	KS_EVT_LSM_USERNS_CREATE = 99,
	KS_EVT_LSM_SOCKET_CREATE = 100,  /* arg[0] = family, arg[1] = type, arg[2] = protocol */
	KS_EVT_LSM_SB_PIVOTROOT = 101,   /* path = the new root's name, path2 = the put_old directory's name (no d_path in this hook) */
	KS_EVT_LSM_URING = 102,          /* io_uring: arg[0] = 1 override_creds, 2 sqpoll, 3 cmd */
	KS_EVT_MAX = 128,
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
	KS_F_HAS_SYSCALL = 1 << 5, /* `syscall` holds the syscall the task was in (LSM records) */
	KS_F_IO_WORKER = 1 << 6,   /* an io_uring worker thread did it (for the ring's owner) */
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
	/* The task's capability sets (bit N = capability N), read from its credentials at the
	 * time of the record. */
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cap_inheritable;
};

/* What a file event's object is, independent of the name it was reached by: filled by the
 * LSM hooks (which hold the inode); zero where the hook has no inode. */
struct ks_file_id {
	__u64 ino;
	__u32 dev;   /* the file system's device, kernel encoding (major << 20 | minor) */
	__u32 rdev;  /* device nodes: the device itself, kernel encoding; mknod: the new node's */
	__u32 mode;  /* i_mode: file type and permission bits */
	__u32 nlink; /* 0 for a file that is deleted (or never had a name: memfd) */
	__u32 magic; /* the file system's magic number (s_magic): nsfs, proc, tmpfs, ... */
	__u32 _pad;
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
	struct ks_file_id file;
	__u16 path_len;     /* bytes used in path incl. NUL, 0 when absent */
	__u16 path2_len;
	__u16 argv_len;     /* bytes used in argv */
	__u16 _pad0;
	__s32 syscall;      /* with KS_F_HAS_SYSCALL: the x86-64 syscall number the hook ran in,
	                     * -1 outside any (an io_uring worker) */
	__u32 _pad2;
	char path[KS_PATH_LEN];   /* file path, exec filename, mount source, memfd name */
	char path2[KS_PATH_LEN];  /* rename target, mount target */
	char argv[KS_ARGV_LEN];   /* exec argv (NUL-separated), mount fstype */
};

/* Flags of struct ks_exec_ext. */
enum ks_exec_flags {
	KS_X_ARGS_TRUNCATED = 1 << 0, /* argv was longer than KS_EXEC_ARGS_LEN */
	KS_X_ENV_TRUNCATED = 1 << 1,  /* the environment was longer than KS_EXEC_ENV_LEN */
	KS_X_CWD_TRUNCATED = 1 << 2,  /* deeper than KS_EXEC_PATH_DEPTH or longer than KS_PATH_LEN */
	KS_X_EXE_TRUNCATED = 1 << 3,
	KS_X_EXE_DELETED = 1 << 4,    /* the executable has no link left (deleted, or a memfd) */
};

/*
 * The tail of a successful execve/execveat record, read from the new image at
 * sched_process_exec (what /proc/<pid>/cmdline and environ show). The paths are written leaf
 * first, one NUL-terminated component per directory ("sh\0bin\0" for /bin/sh), up to the
 * task's root: the walk needs no buffer arithmetic the verifier cannot follow, and user space
 * reverses it.
 */
struct ks_exec_ext {
	__u16 args_len;   /* bytes used in args (NUL-separated argv, argv[0] first) */
	__u16 env_len;    /* bytes used in env (NUL-separated NAME=value) */
	__u16 cwd_len;
	__u16 exe_len;
	__u32 flags;      /* enum ks_exec_flags */
	__u32 _pad;
	char args[KS_EXEC_ARGS_LEN];
	char env[KS_EXEC_ENV_LEN];
	char cwd[KS_PATH_LEN];
	char exe[KS_PATH_LEN];
};

/* A successful exec: the record (hdr.type KS_EVT_EXECVE or KS_EVT_EXECVEAT, res 0) and the
 * new image. Failed execs are plain struct ks_event records. */
struct ks_exec_event {
	struct ks_event ev;
	struct ks_exec_ext x;
};

/* Counters the probes keep in a per-CPU array map `stats_map`, indexed by these. */
enum ks_stat {
	KS_STAT_EVENTS = 0,        /* records submitted */
	KS_STAT_RINGBUF_DROPS = 1, /* bpf_ringbuf_output failed: ring buffer full */
	KS_STAT_PENDING_DROPS = 2, /* enter/exit pairing table full */
	KS_STAT_READ_ERRORS = 3,   /* a user/kernel read failed; record sent with what was read */
	KS_STAT_DENIED = 4,        /* enforcement refusals */
	KS_STAT_FILTERED = 5,      /* records not built: no consumer wants their type (wanted_types_map) */
	KS_STAT_FILTERED_FIELDS = 6, /* records not sent: no consumer wants their path or comm (field_filters_map) */
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
