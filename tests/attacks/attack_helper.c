/* ks-attack: the escape primitives (and the other operations the sensor must see) that
 * busybox cannot perform or hides behind other syscalls, one per subcommand, each making the
 * real syscall inside a guest container. Prints "<name>: ok" or "<name>: <strerror>" and
 * exits 0 / 1, so a test can tell an EPERM block from a success; "ks-attack list" names them.
 * Built static so it runs in the busybox rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(const char *name, long rc) {
	if (rc < 0) {
		printf("%s: %s\n", name, strerror(errno));
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

/* A child that waits to be a target (ptrace, process_vm_*); killed by the caller. */
static pid_t spawn_target(void) {
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) pause();
	}
	return pid;
}

static void end_target(pid_t pid) {
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Runs argv[0] of a copy of busybox at `path` (made executable): exec-from-somewhere tests. */
static int exec_copy(const char *name, const char *path, int unlink_first) {
	int src = open("/bin/busybox", O_RDONLY);
	int dst = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	if (src < 0 || dst < 0) return report(name, -1);
	while ((n = read(src, buf, sizeof buf)) > 0)
		if (write(dst, buf, (size_t)n) != n) return report(name, -1);
	close(dst);
	close(src);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return report(name, -1);
	if (unlink_first) unlink(path);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {"true", NULL};
		char *env[] = {NULL};
		if (unlink_first) syscall(SYS_execveat, fd, "", args, env, AT_EMPTY_PATH);
		else execve(path, args, env);
		_exit(errno == EPERM || errno == EACCES ? 126 : 127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (!unlink_first) unlink(path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		errno = WIFEXITED(st) && WEXITSTATUS(st) == 126 ? EPERM : ENOEXEC;
		return report(name, -1);
	}
	return report(name, 0);
}

/* A raw io_uring (no liburing in the rootfs): one OPENAT submitted and reaped. */
static int uring_open(const char *name, const char *path, int flags) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (ring < 0) return report(name, -1);
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return report(name, -1);
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail), *mask = (unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	unsigned idx = *tail & *mask;
	memset(&sqes[idx], 0, sizeof sqes[idx]);
	sqes[idx].opcode = IORING_OP_OPENAT;
	sqes[idx].fd = AT_FDCWD;
	sqes[idx].addr = (uint64_t)(uintptr_t)path;
	sqes[idx].open_flags = (uint32_t)flags;
	sqes[idx].flags = IOSQE_ASYNC; /* done by an io_uring worker thread, not inline */
	array[idx] = idx;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) return report(name, -1);
	unsigned *head = (unsigned *)(cq + p.cq_off.head);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	int res = cqes[*head & *(unsigned *)(cq + p.cq_off.ring_mask)].res;
	if (res < 0) {
		errno = -res;
		return report(name, -1);
	}
	return report(name, 0);
}

static int udp_pair(int *a, int *b, struct sockaddr_in *to) {
	*a = socket(AF_INET, SOCK_DGRAM, 0);
	*b = socket(AF_INET, SOCK_DGRAM, 0);
	memset(to, 0, sizeof *to);
	to->sin_family = AF_INET;
	to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof *to;
	if (*a < 0 || *b < 0 || bind(*b, (struct sockaddr *)to, sizeof *to) < 0 ||
	    getsockname(*b, (struct sockaddr *)to, &len) < 0)
		return -1;
	return 0;
}

static const char *kNames =
    "bpf ptrace ptrace-child process-vm-readv process-vm-writev memfd-exec shm-exec deleted-exec vsock "
    "socket-netlink socket-packet finit-module init-module kexec-load kexec-file-load unshare-user setns "
    "io-uring-setup io-uring-open userfaultfd perf-event-open open-by-handle name-to-handle keyctl add-key "
    "request-key chroot pivot-root prctl mkdir rmdir symlink link fchmodat setuid setgid setresuid setresgid "
    "setreuid capset udp-sendto udp-sendmsg udp-recvfrom udp-recvmsg mknod-mem mknod-block open open-write "
    "open-kcore write-sysrq write-sysctl mount-debugfs mount-cgroup1 mount-block";

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: ks-attack NAME [ARG]; names: %s\n", kNames);
		return 2;
	}
	const char *what = argv[1];
	const char *arg = argc > 2 ? argv[2] : NULL;
	if (!strcmp(what, "list")) {
		puts(kNames);
		return 0;
	}
	if (!strcmp(what, "bpf")) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof attr);
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		return report(what, syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
	}
	if (!strcmp(what, "ptrace")) /* pid 1 of the container's pid namespace, as the rule names it */
		return report(what, ptrace(PTRACE_ATTACH, 1, 0, 0));
	if (!strcmp(what, "ptrace-child")) { /* attach to another process of the container */
		pid_t t = spawn_target();
		long rc = ptrace(PTRACE_ATTACH, t, 0, 0);
		int saved = errno;
		end_target(t);
		errno = saved;
		return report(what, rc);
	}
	if (!strcmp(what, "process-vm-readv") || !strcmp(what, "process-vm-writev")) {
		static char word[8] = "ks";
		pid_t t = spawn_target();
		struct iovec local = {word, sizeof word}, remote = {word, sizeof word};
		long rc = what[11] == 'r' ? syscall(SYS_process_vm_readv, t, &local, 1, &remote, 1, 0)
					  : syscall(SYS_process_vm_writev, t, &local, 1, &remote, 1, 0);
		int saved = errno;
		end_target(t);
		errno = saved;
		return report(what, rc);
	}
	if (!strcmp(what, "memfd-exec")) {
		int fd = (int)syscall(SYS_memfd_create, "payload", 0);
		if (fd < 0) return report(what, -1);
		int src = open("/bin/busybox", O_RDONLY);
		if (src < 0) return report(what, -1);
		char buf[65536];
		ssize_t n;
		while ((n = read(src, buf, sizeof buf)) > 0)
			if (write(fd, buf, (size_t)n) != n) return report(what, -1);
		char *args[] = {"true", NULL};
		char *env[] = {NULL};
		pid_t pid = fork();
		if (pid == 0) {
			syscall(SYS_execveat, fd, "", args, env, AT_EMPTY_PATH);
			_exit(127);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			errno = EPERM;
			return report(what, -1);
		}
		return report(what, 0);
	}
	if (!strcmp(what, "shm-exec")) {
		mkdir("/dev/shm", 01777);
		return exec_copy(what, "/dev/shm/ks-payload", 0);
	}
	if (!strcmp(what, "deleted-exec")) return exec_copy(what, "/tmp/ks-deleted-payload", 1);
	if (!strcmp(what, "vsock")) {
		int s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0) return report(what, -1);
		struct sockaddr_vm a;
		memset(&a, 0, sizeof a);
		a.svm_family = AF_VSOCK;
		a.svm_cid = VMADDR_CID_HOST;
		a.svm_port = 1024;
		return report(what, connect(s, (struct sockaddr *)&a, sizeof a));
	}
	if (!strcmp(what, "socket-netlink")) return report(what, socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */));
	if (!strcmp(what, "socket-packet")) return report(what, socket(AF_PACKET, SOCK_RAW, htons(3 /* ETH_P_ALL */)));
	if (!strcmp(what, "finit-module")) { /* a bogus module: the attempt is the event */
		int fd = open("/bin/busybox", O_RDONLY);
		if (fd < 0) return report(what, -1);
		return report(what, syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(what, "init-module")) {
		static char image[64] = "\177ELF";
		return report(what, syscall(SYS_init_module, image, sizeof image, ""));
	}
	if (!strcmp(what, "kexec-load")) return report(what, syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
	if (!strcmp(what, "kexec-file-load")) {
		int fd = open("/bin/busybox", O_RDONLY);
		if (fd < 0) return report(what, -1);
		return report(what, syscall(SYS_kexec_file_load, fd, -1, 1, "", 4 /* KEXEC_FILE_NO_INITRAMFS */));
	}
	if (!strcmp(what, "unshare-user")) return report(what, unshare(CLONE_NEWUSER));
	if (!strcmp(what, "setns")) { /* join the namespace of pid 1 (ARG: the ns file, default mnt) */
		char path[64];
		snprintf(path, sizeof path, "/proc/1/ns/%s", arg ? arg : "mnt");
		int fd = open(path, O_RDONLY);
		if (fd < 0) return report(what, -1);
		return report(what, setns(fd, 0));
	}
	if (!strcmp(what, "io-uring-setup")) {
		struct io_uring_params p;
		memset(&p, 0, sizeof p);
		return report(what, syscall(SYS_io_uring_setup, 4, &p));
	}
	if (!strcmp(what, "io-uring-open")) /* ARG: the file, opened for writing by an io_uring worker */
		return uring_open(what, arg ? arg : "/tmp/ks-uring", O_WRONLY | O_CREAT);
	if (!strcmp(what, "userfaultfd")) return report(what, syscall(SYS_userfaultfd, O_CLOEXEC));
	if (!strcmp(what, "perf-event-open")) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof a);
		a.type = PERF_TYPE_SOFTWARE;
		a.size = sizeof a;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		a.disabled = 1;
		return report(what, syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
	}
	if (!strcmp(what, "name-to-handle") || !strcmp(what, "open-by-handle")) {
		/* The "shocker" primitive: a handle, then an open by it that bypasses the path. */
		struct {
			struct file_handle fh;
			unsigned char bytes[128];
		} h;
		int mount_id = 0;
		h.fh.handle_bytes = sizeof h.bytes;
		if (syscall(SYS_name_to_handle_at, AT_FDCWD, arg ? arg : "/etc/hostname", &h.fh, &mount_id, 0) < 0)
			return report(what, -1);
		if (what[0] == 'n') return report(what, 0);
		/* The mount fd must be on the handle's file system: the file's directory. */
		char dir[256];
		snprintf(dir, sizeof dir, "%s", arg ? arg : "/etc/hostname");
		char *slash = strrchr(dir, '/');
		if (slash == dir) slash[1] = 0;
		else if (slash) *slash = 0;
		int mnt = open(dir, O_RDONLY | O_DIRECTORY);
		if (mnt < 0) return report(what, -1);
		return report(what, syscall(SYS_open_by_handle_at, mnt, &h.fh, O_RDONLY));
	}
	if (!strcmp(what, "keyctl"))
		return report(what, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1));
	if (!strcmp(what, "add-key"))
		return report(what, syscall(SYS_add_key, "user", "ks-key", "secret", 6, KEY_SPEC_PROCESS_KEYRING));
	if (!strcmp(what, "request-key"))
		return report(what, syscall(SYS_request_key, "user", "ks-nosuch", NULL, KEY_SPEC_PROCESS_KEYRING));
	if (!strcmp(what, "chroot")) return report(what, chroot("/tmp"));
	if (!strcmp(what, "pivot-root")) return report(what, syscall(SYS_pivot_root, "/tmp", "/tmp/old"));
	if (!strcmp(what, "prctl")) return report(what, prctl(PR_SET_NAME, "ks-renamed", 0, 0, 0));
	if (!strcmp(what, "mkdir")) return report(what, mkdir(arg ? arg : "/tmp/ks-dir", 0755));
	if (!strcmp(what, "rmdir")) {
		mkdir("/tmp/ks-rmdir", 0755);
		return report(what, rmdir("/tmp/ks-rmdir"));
	}
	if (!strcmp(what, "symlink")) {
		unlink("/tmp/ks-link");
		return report(what, symlink("/etc/shadow", "/tmp/ks-link"));
	}
	if (!strcmp(what, "link")) {
		unlink("/tmp/ks-hard");
		return report(what, link("/etc/passwd", "/tmp/ks-hard"));
	}
	if (!strcmp(what, "fchmodat")) {
		int fd = open("/tmp/ks-mode", O_WRONLY | O_CREAT, 0644);
		if (fd < 0) return report(what, -1);
		return report(what, fchmodat(AT_FDCWD, "/tmp/ks-mode", 04755, 0));
	}
	if (!strcmp(what, "setuid")) return report(what, setuid(0));
	if (!strcmp(what, "setgid")) return report(what, setgid(0));
	if (!strcmp(what, "setresuid")) return report(what, setresuid(-1, 0, -1));
	if (!strcmp(what, "setresgid")) return report(what, setresgid(-1, 0, -1));
	if (!strcmp(what, "setreuid")) return report(what, setreuid(0, 0));
	if (!strcmp(what, "capset")) {
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];
		if (syscall(SYS_capget, &hdr, data) < 0) return report(what, -1);
		return report(what, syscall(SYS_capset, &hdr, data));
	}
	if (!strncmp(what, "udp-", 4)) {
		int a, b;
		struct sockaddr_in to, from;
		socklen_t len = sizeof from;
		char buf[16] = "ping";
		if (udp_pair(&a, &b, &to) < 0) return report(what, -1);
		if (!strcmp(what, "udp-sendmsg")) {
			struct iovec iov = {buf, 4};
			struct msghdr m = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1};
			return report(what, sendmsg(a, &m, 0));
		}
		if (sendto(a, buf, 4, 0, (struct sockaddr *)&to, sizeof to) < 0) return report(what, -1);
		if (!strcmp(what, "udp-sendto")) return report(what, 0);
		if (!strcmp(what, "udp-recvfrom")) return report(what, recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len));
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
		return report(what, recvmsg(b, &m, 0));
	}
	if (!strcmp(what, "mknod-mem")) { /* /dev/mem (char 1:1) under a name no path rule knows */
		unlink("/dev/ks-mem");
		return report(what, mknod("/dev/ks-mem", S_IFCHR | 0600, makedev(1, 1)));
	}
	if (!strcmp(what, "mknod-block")) { /* a disk (block 8:0) of its own */
		unlink("/dev/ks-sda");
		return report(what, mknod("/dev/ks-sda", S_IFBLK | 0600, makedev(8, 0)));
	}
	if (!strcmp(what, "open") || !strcmp(what, "open-write")) { /* ARG: any file, read or write */
		if (!arg) return 2;
		return report(what, open(arg, what[4] ? O_WRONLY : O_RDONLY));
	}
	if (!strcmp(what, "open-kcore")) return report(what, open("/proc/kcore", O_RDONLY));
	if (!strcmp(what, "write-sysrq")) {
		int fd = open("/proc/sysrq-trigger", O_WRONLY);
		if (fd < 0) return report(what, -1);
		return report(what, write(fd, "x", 0)); /* nothing written: opening is the attempt */
	}
	if (!strcmp(what, "write-sysctl")) { /* ARG: the setting (default kernel.modprobe) */
		char path[128];
		snprintf(path, sizeof path, "/proc/sys/%s", arg ? arg : "kernel/modprobe");
		return report(what, open(path, O_WRONLY));
	}
	if (!strcmp(what, "mount-debugfs")) {
		mkdir("/tmp/ks-debug", 0755);
		return report(what, mount("none", "/tmp/ks-debug", "debugfs", 0, NULL));
	}
	if (!strcmp(what, "mount-cgroup1")) {
		mkdir("/tmp/ks-cg", 0755);
		return report(what, mount("cgroup", "/tmp/ks-cg", "cgroup", 0, "none,name=ks"));
	}
	if (!strcmp(what, "mount-block")) { /* ARG: the device (default /dev/vda) */
		mkdir("/tmp/ks-m", 0755);
		return report(what, mount(arg ? arg : "/dev/vda", "/tmp/ks-m", "ext4", MS_RDONLY, NULL));
	}
	fprintf(stderr, "ks-attack: unknown attack %s\n", what);
	return 2;
}
