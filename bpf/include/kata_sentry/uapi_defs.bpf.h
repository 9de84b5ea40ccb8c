/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * uapi constants that BPF C needs but vmlinux.h lacks: they are #defines (or anonymous
 * enums BTF does not keep) in the kernel's uapi headers, which cannot be included next to
 * vmlinux.h. One copy for every kata-sentry BPF program. BPF C only: C++ gets the real
 * definitions from <linux/...> and <sys/socket.h>.
 */
#ifndef KATA_SENTRY_UAPI_DEFS_BPF_H
#define KATA_SENTRY_UAPI_DEFS_BPF_H

#define EPERM 1

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_VSOCK 40

#define AT_FDCWD -100
#define CLONE_THREAD 0x00010000

/* struct bpf_cgroup_dev_ctx.access_type: device type in the low 16 bits, access in the high. */
#define BPF_DEVCG_ACC_MKNOD 1
#define BPF_DEVCG_ACC_READ 2
#define BPF_DEVCG_ACC_WRITE 4
#define BPF_DEVCG_DEV_BLOCK 1
#define BPF_DEVCG_DEV_CHAR 2

#endif /* KATA_SENTRY_UAPI_DEFS_BPF_H */
