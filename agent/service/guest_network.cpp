#include "agent/service/guest_network.h"

#include <linux/if.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <filesystem>

#include "core/guest_paths.h"
#include "core/logging.h"
#include "core/netlink.h"

namespace kata_sentry::agent {
namespace fs = std::filesystem;

Status apply_pod_network(const PodNetworkConfig& network) {
  auto nl = netlink::Socket::open();
  if (!nl) return std::unexpected(nl.error());
  auto links = nl->links();
  if (!links) return std::unexpected(links.error());
  for (const auto& l : *links) {
    if (l.flags & IFF_LOOPBACK) {
      if (auto st = nl->set_link(l.index, {.up = true}); !st) return st;
    }
  }
  for (const auto& want : network.interfaces) {
    const netlink::Link* nic = nullptr;
    for (const auto& l : *links)
      if (l.mac && *l.mac == want.mac && !(l.flags & IFF_LOOPBACK)) nic = &l;
    const std::string what = "pod interface " + want.name + " (" + format_mac(want.mac) + ")";
    if (!nic) return fail(ErrorCode::not_found, what + ": no NIC with this MAC in the guest (is virtio_net loaded?)");
    // A name can only change while the link is down.
    if (auto st = nl->set_link(nic->index, {.up = false}); !st) return st;
    netlink::LinkChange change{.up = true, .mtu = want.mtu};
    if (nic->name != want.name) change.name = want.name;
    if (auto st = nl->set_link(nic->index, change); !st)
      return fail(st.error().code, what + ": " + st.error().describe());
    for (const auto& a : want.addresses) {
      if (auto st = nl->add_address(nic->index, a); !st) return fail(st.error().code, what + ": " + st.error().describe());
    }
    logger("agent")->info("{}: up, mtu {}, {} address(es)", what, want.mtu, want.addresses.size());
  }
  auto now = nl->links();
  if (!now) return std::unexpected(now.error());
  for (const auto& r : network.routes) {
    int oif = 0;
    for (const auto& l : *now)
      if (l.name == r.device) oif = l.index;
    if (oif == 0) return fail(ErrorCode::invalid_argument, "pod route via " + r.device + ": no such interface");
    if (auto st = nl->add_route(oif, r.destination, r.gateway); !st) return st;
  }
  return {};
}

Status mount_pod_shm(uint64_t bytes) {
  std::error_code ec;
  fs::create_directories(guest_paths::kPodShm, ec);
  if (ec) return fail(ErrorCode::io, std::string("create ") + guest_paths::kPodShm + ": " + ec.message());
  std::string data = "mode=1777,size=" + std::to_string(bytes);
  if (::mount("shm", guest_paths::kPodShm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data.c_str()) != 0)
    return fail_errno(std::string("mount the pod's shm tmpfs on ") + guest_paths::kPodShm);
  return {};
}

}  // namespace kata_sentry::agent
