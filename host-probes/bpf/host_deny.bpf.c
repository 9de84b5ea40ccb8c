// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host-side deny for one sandbox: cgroup programs attached to the sandbox's cgroup v2
 * directory (QEMU, virtiofsd and whatever they spawn live below it). On hosts without BPF
 * LSM these hooks, unlike a signal from a tracepoint, make the syscall itself fail with
 * EPERM: connect4/6 and sendmsg4/6 (an unconnected UDP sendto never reaches connect) for
 * the network, dev for device nodes (open and mknod).
 *
 * The deny set is two banks per map (see host_deny_abi.h). Every refusal is reported as a
 * struct ks_event (KS_EVT_CGROUP_*, KS_F_DENIED) in the `events` ring buffer so that user
 * space can audit exactly what was blocked; an allowed operation costs one load of the
 * active word when the set is empty.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kata_sentry/event_abi.h"
#include "kata_sentry/stats.bpf.h"
#include "kata_sentry/task_context.bpf.h"
#include "kata_sentry/uapi_defs.bpf.h"
#include "bpf/host_deny_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Bank bit and entry count of each live set, written by user space after the bank. */
volatile __u32 connect_active = 0;
volatile __u32 device_active = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10); /* refusals are rare; each is one ks_event */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_HOST_DENY_MAX);
	__type(key, __u32);
	__type(value, struct ks_host_deny_rule);
} connect_rules_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KS_HOST_DENY_MAX);
	__type(key, __u32);
	__type(value, struct ks_host_deny_rule);
} device_rules_map SEC(".maps");

/* A ks_event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ks_event);
} scratch_map SEC(".maps");

/* What the programs know about the operation, matched against each entry. */
struct op {
	__u32 hook;     /* connect: enum ks_cgroup_hook; device: access bits */
	__u32 dev_type;
	__u32 major;
	__u32 minor;
	__u16 port;
	__u8 addr[16];  /* destination as IPv6 (IPv4 v4-mapped) */
	__u32 uid;
	char comm[KS_COMM_LEN];
};

struct match_ctx {
	void *map;
	struct op *op;
	__u32 base;
	__u32 is_device;
	__s32 hit; /* rule_id of the first match, -1 when none */
};

static __always_inline bool addr_matches(const struct ks_host_deny_rule *r, const struct op *o)
{
	__u32 bits = r->prefix_len;

	for (int i = 0; i < 16; i++) {
		__u8 mask;

		if (bits == 0)
			break;
		mask = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));
		if ((r->addr[i] ^ o->addr[i]) & mask)
			return false;
		bits = bits >= 8 ? bits - 8 : 0;
	}
	return true;
}

static long match_one(__u32 i, void *data)
{
	struct match_ctx *m = data;
	struct op *o = m->op;
	__u32 idx = m->base + i;
	struct ks_host_deny_rule *r = bpf_map_lookup_elem(m->map, &idx);

	if (!r)
		return 1;
	if (m->is_device) {
		if (!(r->hooks & o->hook))
			return 0;
		if ((r->flags & KS_HD_F_DEV_TYPE) && r->dev_type != o->dev_type)
			return 0;
		if ((r->flags & KS_HD_F_DEV_MAJOR) && r->major != o->major)
			return 0;
		if ((r->flags & KS_HD_F_DEV_MINOR) && r->minor != o->minor)
			return 0;
	} else {
		if (!(r->hooks & (1u << (o->hook & 31))))
			return 0;
		if ((r->flags & KS_HD_F_PORT) && r->port != o->port)
			return 0;
		if ((r->flags & KS_HD_F_ADDR) && !addr_matches(r, o))
			return 0;
	}
	if ((r->flags & KS_HD_F_UID) && r->uid != o->uid)
		return 0;
	if (r->flags & KS_HD_F_COMM) {
		for (int k = 0; k < KS_COMM_LEN; k++) {
			if (r->comm[k] != o->comm[k])
				return 0;
			if (!r->comm[k])
				break;
		}
	}
	m->hit = r->rule_id;
	return 1; /* the first match decides */
}

static __always_inline __s32 match(void *map, __u32 active, struct op *o, bool is_device)
{
	__u32 n = active & 0xffff;
	struct match_ctx m = {};

	if (n > KS_HOST_DENY_MAX)
		n = KS_HOST_DENY_MAX;
	m.map = map;
	m.op = o;
	m.base = (active & KS_HOST_DENY_BANK_BIT) ? KS_HOST_DENY_MAX : 0;
	m.is_device = is_device;
	m.hit = -1;
	o->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	bpf_loop(n, match_one, &m, 0);
	return m.hit;
}

/* Writes the refusal record; a full ring buffer is counted, never blocks the verdict. */
static __always_inline void report(__u16 type, const struct op *o, __s32 rule, __u64 arg0, __u64 arg1,
				   __u64 arg2, __u16 family)
{
	__u32 zero = 0;
	struct ks_event *e = bpf_map_lookup_elem(&scratch_map, &zero);

	count(KS_STAT_DENIED);
	if (!e)
		return;
	__builtin_memset(e, 0, __builtin_offsetof(struct ks_event, path));
	fill_proc(e);
	e->hdr.type = type;
	e->hdr.flags = KS_F_DENIED | KS_F_HAS_RES;
	e->res = -EPERM;
	e->arg[0] = arg0;
	e->arg[1] = arg1;
	e->arg[2] = arg2;
	e->arg[3] = (__u64)rule;
	if (family) {
		e->addr.family = family;
		e->addr.port = o->port;
		if (family == AF_INET)
			__builtin_memcpy(e->addr.addr, &o->addr[12], 4);
		else
			__builtin_memcpy(e->addr.addr, o->addr, 16);
	}
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		count(KS_STAT_RINGBUF_DROPS);
	else
		count(KS_STAT_EVENTS);
}

static __always_inline int check_sock(struct bpf_sock_addr *ctx, __u32 hook, bool v6)
{
	__u32 active = connect_active;
	struct op o = {};
	__s32 hit;

	if (!(active & 0xffff))
		return 1;
	o.hook = hook;
	o.port = bpf_ntohs((__u16)ctx->user_port);
	if (v6) {
		__u32 w[4];

		w[0] = ctx->user_ip6[0];
		w[1] = ctx->user_ip6[1];
		w[2] = ctx->user_ip6[2];
		w[3] = ctx->user_ip6[3];
		__builtin_memcpy(o.addr, w, 16);
	} else {
		__u32 ip = ctx->user_ip4;

		o.addr[10] = 0xff;
		o.addr[11] = 0xff;
		__builtin_memcpy(&o.addr[12], &ip, 4);
	}
	hit = match(&connect_rules_map, active, &o, false);
	if (hit < 0)
		return 1;
	report(KS_EVT_CGROUP_CONNECT, &o, hit, hook, ctx->type, 0, v6 ? AF_INET6 : AF_INET);
	return 0; /* the syscall fails with EPERM */
}

SEC("cgroup/connect4")
int handle_connect4(struct bpf_sock_addr *ctx)
{
	return check_sock(ctx, KS_CG_CONNECT4, false);
}

SEC("cgroup/connect6")
int handle_connect6(struct bpf_sock_addr *ctx)
{
	return check_sock(ctx, KS_CG_CONNECT6, true);
}

SEC("cgroup/sendmsg4")
int handle_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check_sock(ctx, KS_CG_SENDMSG4, false);
}

SEC("cgroup/sendmsg6")
int handle_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check_sock(ctx, KS_CG_SENDMSG6, true);
}

SEC("cgroup/dev")
int handle_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 active = device_active;
	struct op o = {};
	__s32 hit;

	if (!(active & 0xffff))
		return 1;
	o.hook = ctx->access_type >> 16;
	o.dev_type = ctx->access_type & 0xffff;
	o.major = ctx->major;
	o.minor = ctx->minor;
	hit = match(&device_rules_map, active, &o, true);
	if (hit < 0)
		return 1;
	report(KS_EVT_CGROUP_DEVICE, &o, hit, ctx->access_type, ctx->major, ctx->minor, 0);
	return 0;
}
