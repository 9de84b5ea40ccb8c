/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The uapi layout of struct sockaddr_vm (<linux/vm_sockets.h>). vsock is a module in many
 * kernels (the Debian guest kernel among them), so the type is missing from vmlinux BTF until
 * the module loads, and a CO-RE relocation against it makes the whole object fail to load.
 * The uapi layout is fixed, so it is read without relocations. Include after vmlinux.h.
 */
#ifndef KATA_SENTRY_SOCKADDR_VM_BPF_H
#define KATA_SENTRY_SOCKADDR_VM_BPF_H

struct ks_sockaddr_vm {
	__u16 svm_family;
	__u16 svm_reserved1;
	__u32 svm_port;
	__u32 svm_cid;
	__u8 svm_flags;
	__u8 svm_zero[3];
};

#endif
