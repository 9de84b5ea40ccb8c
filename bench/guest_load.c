/* ks-load: the guest side of guest_probes_bench, run inside a container (static, no libc
 * surprises from busybox). Every operation is open("/dev/null") + close: the cheapest syscall
 * that both guest probe sets see (openat tracepoint + lsm/file_open). The path is relative to
 * an fd of /dev (a tmpfs): an absolute path would walk the container's root on virtio-fs, and
 * with cache=none that is a round trip to virtiofsd per open (~240 us under TCG, measured),
 * which would bury the probes' cost.
 *
 *   ks-load cost N            N operations in a tight loop; prints "ns_per_op <x>"
 *   ks-load rate R SECS PROCS PROCS processes together make R operations/s for SECS seconds,
 *                             paced per millisecond; prints "ops <n> seconds <s>"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dev_fd = -1;

static void op(void)
{
	int fd = openat(dev_fd, "null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
}

static int cost(long n)
{
	double t0;

	for (long i = 0; i < 1000; i++) /* warm the caches and the dentry */
		op();
	t0 = now_s();
	for (long i = 0; i < n; i++)
		op();
	printf("ns_per_op %.1f\n", (now_s() - t0) * 1e9 / (double)n);
	return 0;
}

/* One process's share: `rate` ops/s, caught up every millisecond so that a slow tick (the
 * guest is emulated) does not lower the average rate. */
static long paced(double rate, double secs)
{
	double t0 = now_s(), t;
	long done = 0;

	while ((t = now_s() - t0) < secs) {
		long due = (long)(t * rate);

		while (done < due) {
			op();
			done++;
		}
		struct timespec tick = {0, 1000000};
		nanosleep(&tick, NULL);
	}
	return done;
}

static int rate(double r, double secs, int procs)
{
	int fds[2];
	double t0 = now_s();
	long total = 0;

	if (pipe(fds))
		return 1;
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			long n = paced(r / procs, secs);

			if (write(fds[1], &n, sizeof n) != sizeof n)
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int p = 0; p < procs; p++) {
		long n = 0;

		if (read(fds[0], &n, sizeof n) == sizeof n)
			total += n;
	}
	while (wait(NULL) > 0)
		;
	printf("ops %ld seconds %.3f\n", total, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	dev_fd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_fd < 0) {
		perror("open /dev");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "cost"))
		return cost(atol(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "rate"))
		return rate(atof(argv[2]), atof(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: ks-load cost N | ks-load rate OPS_PER_S SECONDS PROCS\n");
	return 2;
}
