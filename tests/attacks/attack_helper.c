/* ks-attack: the escape techniques busybox cannot perform, one per subcommand, each doing the
 * real syscall inside a guest container. Prints "<name>: ok" or "<name>: <strerror>" and exits
 * 0 / 1, so a test can tell an EPERM block from a success.
 * Built static so it runs in the busybox rootfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/vm_sockets.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(const char *name, int rc) {
	if (rc < 0) {
		printf("%s: %s\n", name, strerror(errno));
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: ks-attack bpf|ptrace|memfd-exec|vsock|finit-module|unshare-user\n");
		return 2;
	}
	const char *what = argv[1];
	if (!strcmp(what, "bpf")) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof attr);
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		return report(what, (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
	}
	if (!strcmp(what, "ptrace")) /* pid 1 of the container's pid namespace, as the rule names it */
		return report(what, (int)ptrace(PTRACE_ATTACH, 1, 0, 0));
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
	if (!strcmp(what, "finit-module")) { /* a bogus module: the attempt is the event */
		int fd = open("/bin/busybox", O_RDONLY);
		if (fd < 0) return report(what, -1);
		return report(what, (int)syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(what, "unshare-user"))
		return report(what, unshare(CLONE_NEWUSER));
	fprintf(stderr, "ks-attack: unknown attack %s\n", what);
	return 2;
}
