// Kata's "tcfilter" wiring between a CNI interface and the VM's tap, in the pod's network
// namespace: an ingress qdisc on each, and on each a u32 filter that matches every packet and
// redirects it (mirred egress redirect) out of the other. The veth's traffic then flows through
// the tap to QEMU and back without the namespace's IP stack seeing it. Built on core/netlink.h.
#pragma once

#include <string>

#include "core/netlink.h"

namespace kata_sentry::network {

// Adds the ingress qdisc on `from` (if absent) and the redirect filter from `from` to `to`.
// Fails naming the device: "netlink add redirect filter eth0 -> ks-tap0: ...".
Status add_redirect(netlink::Socket& nl, const netlink::Link& from, const netlink::Link& to);

// Deletes the ingress qdisc of `link` and with it every filter on it. A link without one is fine.
Status remove_ingress(netlink::Socket& nl, const netlink::Link& link);

// True when `link` has an ingress qdisc (for tests and teardown checks).
Result<bool> has_ingress(netlink::Socket& nl, int ifindex);

}  // namespace kata_sentry::network
