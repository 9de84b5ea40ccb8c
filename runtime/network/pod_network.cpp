#include "runtime/network/pod_network.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <future>
#include <thread>

#include "core/logging.h"
#include "runtime/network/tc_redirect.h"

namespace kata_sentry::network {
namespace {

// Runs `f` on a fresh thread that has entered the network namespace `netns_fd`: setns() on
// CLONE_NEWNET changes only the calling thread, and this thread ends right after, so no other
// thread of the shim ever runs in the pod's namespace. Sockets and taps made by `f` stay in it.
template <typename F>
auto in_netns(int netns_fd, const std::string& what, F&& f) -> decltype(f()) {
  using R = decltype(f());
  std::promise<R> result;
  std::thread t([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      result.set_value(fail_errno(what + ": enter the pod's network namespace"));
      return;
    }
    result.set_value(f());
  });
  t.join();
  return result.get_future().get();
}

Result<UniqueFd> open_tap(const std::string& name) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail_errno("open /dev/net/tun for tap " + name);
  UniqueFd tap(fd);
  ifreq ifr{};
  // vnet_hdr lets QEMU pass checksum/segmentation offload metadata along with each frame.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(tap.get(), TUNSETIFF, &ifr) != 0) return fail_errno("create tap " + name + " (TUNSETIFF)");
  return tap;
}

bool is_link_local_v6(const IpPrefix& p) { return p.family == AF_INET6 && p.bytes[0] == 0xfe && (p.bytes[1] & 0xc0) == 0x80; }

}  // namespace

Result<std::unique_ptr<PodNetwork>> PodNetwork::attach(const std::filesystem::path& netns_path) {
  auto log = logger("runtime");
  std::unique_ptr<PodNetwork> pn(new PodNetwork());
  pn->netns_path_ = netns_path;
  int fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("pod network: open network namespace " + netns_path.string());
  pn->netns_.reset(fd);
  const std::string where = "pod network " + netns_path.string();

  // Everything that must happen inside the namespace: the netlink socket, and the taps (a tap is
  // created in the namespace of the thread that calls TUNSETIFF).
  Status st = in_netns(pn->netns_.get(), where, [&]() -> Status {
    auto nl = netlink::Socket::open();
    if (!nl) return std::unexpected(nl.error());
    pn->nl_ = std::make_unique<netlink::Socket>(std::move(*nl));
    auto links = pn->nl_->links();
    if (!links) return std::unexpected(links.error());
    int n = 0;
    for (const auto& l : *links) {
      if ((l.flags & IFF_LOOPBACK) || !l.mac || l.kind == "tun") continue;
      PodNic nic;
      nic.cni_name = l.name;
      nic.tap_name = "ks-tap" + std::to_string(n++);
      nic.mac = *l.mac;
      auto tap = open_tap(nic.tap_name);
      if (!tap) return std::unexpected(tap.error());
      nic.tap = std::move(*tap);
      pn->nics_.push_back(std::move(nic));
    }
    return {};
  });
  if (!st) return std::unexpected(Error{st.error().code, st.error().sys_errno, where + ": " + st.error().message});
  if (pn->nics_.empty()) return fail(ErrorCode::invalid_argument, where + ": no network interface besides lo (did CNI run?)");

  auto& nl = *pn->nl_;
  auto links = nl.links();
  if (!links) return std::unexpected(links.error());
  auto addrs = nl.addresses();
  if (!addrs) return std::unexpected(addrs.error());
  auto routes4 = nl.routes(AF_INET);
  if (!routes4) return std::unexpected(routes4.error());
  auto routes6 = nl.routes(AF_INET6);
  if (!routes6) return std::unexpected(routes6.error());
  auto find = [&](const std::string& name) -> const netlink::Link* {
    for (const auto& l : *links)
      if (l.name == name) return &l;
    return nullptr;
  };
  for (auto& nic : pn->nics_) {
    const netlink::Link* veth = find(nic.cni_name);
    const netlink::Link* tap = find(nic.tap_name);
    if (!veth || !tap) return fail(ErrorCode::internal, where + ": " + nic.cni_name + " or " + nic.tap_name + " vanished");
    NetInterfaceConfig ic;
    ic.name = veth->name;
    ic.mac = nic.mac;
    ic.mtu = veth->mtu ? veth->mtu : 1500;
    for (const auto& a : *addrs)
      if (a.index == veth->index && !is_link_local_v6(a.prefix)) ic.addresses.push_back(a.prefix);
    // Routes the kernel made for the addresses (proto kernel) come back by themselves in the
    // guest when the addresses are added; the others (CNI's default route, ...) are copied.
    for (const auto* list : {&*routes4, &*routes6}) {
      for (const auto& r : *list) {
        if (r.oif != veth->index || r.protocol == RTPROT_KERNEL) continue;
        if (r.destination && is_link_local_v6(*r.destination)) continue;
        pn->config_.routes.push_back({r.destination, r.gateway, veth->name});
      }
    }
    const uint32_t mtu = ic.mtu;
    pn->config_.interfaces.push_back(std::move(ic));
    // The tap carries the veth's frames: same MTU, up, then the redirects both ways.
    if (auto s = nl.set_link(tap->index, {.up = true, .mtu = mtu}); !s) return std::unexpected(s.error());
    pn->wired_.push_back(*veth);
    pn->wired_.push_back(*tap);
    if (auto s = add_redirect(nl, *veth, *tap); !s) return std::unexpected(s.error());
    if (auto s = add_redirect(nl, *tap, *veth); !s) return std::unexpected(s.error());
    log->info("pod network {}: {} ({}, mtu {}) <-> {} for the VM", netns_path.string(), veth->name,
              format_mac(nic.mac), mtu, nic.tap_name);
  }
  return pn;
}

PodNetwork::~PodNetwork() { (void)detach(); }

Status PodNetwork::detach() {
  if (detached_) return {};
  detached_ = true;
  Status result;
  if (nl_) {
    for (const auto& l : wired_) {
      if (auto st = remove_ingress(*nl_, l); !st && result) result = st;
    }
  }
  wired_.clear();
  nics_.clear();  // closes the taps
  nl_.reset();
  netns_.reset();
  if (!result) logger("runtime")->warn("pod network {}: {}", netns_path_.string(), result.error().describe());
  return result;
}

}  // namespace kata_sentry::network
