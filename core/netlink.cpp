#include "core/netlink.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

namespace kata_sentry::netlink {
namespace {

constexpr size_t kAlign = 4;
size_t align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// Walks the attributes in [data, data+len).
template <typename F>
void for_each_attr(const uint8_t* data, size_t len, F&& f) {
  while (len >= sizeof(rtattr)) {
    auto* a = reinterpret_cast<const rtattr*>(data);
    if (a->rta_len < sizeof(rtattr) || a->rta_len > len) return;
    f(a->rta_type & NLA_TYPE_MASK, data + RTA_LENGTH(0), a->rta_len - RTA_LENGTH(0));
    size_t step = align(a->rta_len);
    if (step >= len) return;
    data += step;
    len -= step;
  }
}

template <typename Header>
const uint8_t* attrs_of(const nlmsghdr* h, size_t* len) {
  size_t off = NLMSG_LENGTH(align(sizeof(Header)));
  *len = h->nlmsg_len > off ? h->nlmsg_len - off : 0;
  return reinterpret_cast<const uint8_t*>(h) + off;
}

std::optional<IpPrefix> prefix_of(int family, const uint8_t* data, size_t len, uint8_t prefix_len) {
  size_t want = ip_length(family);
  if (want == 0 || len != want) return std::nullopt;
  IpPrefix p;
  p.family = family;
  std::memcpy(p.bytes.data(), data, want);
  p.prefix_len = prefix_len;
  return p;
}

}  // namespace

Message::Message(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
  append(&h, sizeof h);
  header_offset_ = buf_.size();
}

void Message::append(const void* data, size_t len) {
  size_t at = buf_.size();
  buf_.resize(at + align(len), 0);
  if (data) std::memcpy(buf_.data() + at, data, len);
}

void Message::put(uint16_t attr, const void* data, size_t len) {
  rtattr a{};
  a.rta_type = attr;
  a.rta_len = uint16_t(RTA_LENGTH(len));
  size_t at = buf_.size();
  buf_.resize(at + RTA_SPACE(len), 0);
  std::memcpy(buf_.data() + at, &a, sizeof a);
  if (len) std::memcpy(buf_.data() + at + RTA_LENGTH(0), data, len);
}

size_t Message::begin_nested(uint16_t attr) {
  size_t mark = buf_.size();
  rtattr a{};
  a.rta_type = uint16_t(attr | NLA_F_NESTED);
  append(&a, sizeof a);
  return mark;
}

void Message::end_nested(size_t mark) {
  auto* a = reinterpret_cast<rtattr*>(buf_.data() + mark);
  a->rta_len = uint16_t(buf_.size() - mark);
}

std::vector<uint8_t>& Message::finish(uint32_t seq) {
  auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
  h->nlmsg_len = uint32_t(buf_.size());
  h->nlmsg_seq = seq;
  return buf_;
}

Result<Socket> Socket::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail_errno("netlink: socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    auto e = fail_errno("netlink: bind");
    ::close(fd);
    return e;
  }
  // Extended acks carry the kernel's own words for a refused request.
  int one = 1;
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  return Socket(UniqueFd(fd));
}

template <typename F>
Status Socket::dump(Message& m, const std::string& what, F&& each) {
  uint32_t seq = seq_++;
  auto& bytes = m.finish(seq);
  if (::send(fd_.get(), bytes.data(), bytes.size(), 0) < 0) return fail_errno("netlink " + what + ": send");
  std::vector<uint8_t> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("netlink " + what + ": recv");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return {};
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return {};
        errno = -e->error;
        return fail_errno("netlink " + what);
      }
      each(h);
    }
  }
}

Status Socket::request(Message& m, const std::string& what) {
  uint32_t seq = seq_++;
  auto& bytes = m.finish(seq);
  reinterpret_cast<nlmsghdr*>(bytes.data())->nlmsg_flags |= NLM_F_ACK;
  if (::send(fd_.get(), bytes.data(), bytes.size(), 0) < 0) return fail_errno("netlink " + what + ": send");
  std::vector<uint8_t> buf(16 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("netlink " + what + ": recv");
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, size_t(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
      auto* e = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (e->error == 0) return {};
      // An extended ack's message names what the kernel disliked.
      std::string detail;
      if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && !(h->nlmsg_flags & NLM_F_CAPPED)) {
        size_t off = NLMSG_LENGTH(sizeof(nlmsgerr) + e->msg.nlmsg_len - NLMSG_HDRLEN);
        if (h->nlmsg_len > off) {
          for_each_attr(reinterpret_cast<const uint8_t*>(h) + off, h->nlmsg_len - off,
                        [&](uint16_t t, const uint8_t* d, size_t l) {
                          if (t == NLMSGERR_ATTR_MSG && l > 0) detail = std::string(reinterpret_cast<const char*>(d), strnlen(reinterpret_cast<const char*>(d), l));
                        });
        }
      }
      errno = -e->error;
      return fail_errno("netlink " + what + (detail.empty() ? "" : " (" + detail + ")"));
    }
  }
}

Result<std::vector<Link>> Socket::links() {
  Message m(RTM_GETLINK, NLM_F_DUMP);
  m.header<ifinfomsg>().ifi_family = AF_UNSPEC;
  std::vector<Link> out;
  auto st = dump(m, "list links", [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    auto* ifi = reinterpret_cast<const ifinfomsg*>(NLMSG_DATA(h));
    Link l;
    l.index = ifi->ifi_index;
    l.flags = ifi->ifi_flags;
    size_t len;
    const uint8_t* a = attrs_of<ifinfomsg>(h, &len);
    for_each_attr(a, len, [&](uint16_t t, const uint8_t* d, size_t n) {
      if (t == IFLA_IFNAME) l.name.assign(reinterpret_cast<const char*>(d), strnlen(reinterpret_cast<const char*>(d), n));
      else if (t == IFLA_MTU && n == 4) std::memcpy(&l.mtu, d, 4);
      else if (t == IFLA_ADDRESS && n == 6 && ifi->ifi_type == ARPHRD_ETHER) {
        MacAddress mac;
        std::memcpy(mac.data(), d, 6);
        l.mac = mac;
      } else if (t == IFLA_LINKINFO) {
        for_each_attr(d, n, [&](uint16_t it, const uint8_t* id, size_t in) {
          if (it == IFLA_INFO_KIND) l.kind.assign(reinterpret_cast<const char*>(id), strnlen(reinterpret_cast<const char*>(id), in));
        });
      }
    });
    out.push_back(std::move(l));
  });
  if (!st) return std::unexpected(st.error());
  return out;
}

Result<Link> Socket::link(const std::string& name) {
  auto all = links();
  if (!all) return std::unexpected(all.error());
  for (auto& l : *all)
    if (l.name == name) return std::move(l);
  return fail(ErrorCode::not_found, "netlink: no interface " + name);
}

Result<std::vector<Address>> Socket::addresses(int family) {
  Message m(RTM_GETADDR, NLM_F_DUMP);
  m.header<ifaddrmsg>().ifa_family = uint8_t(family);
  std::vector<Address> out;
  auto st = dump(m, "list addresses", [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    auto* ifa = reinterpret_cast<const ifaddrmsg*>(NLMSG_DATA(h));
    size_t len;
    const uint8_t* a = attrs_of<ifaddrmsg>(h, &len);
    std::optional<IpPrefix> local, address;
    for_each_attr(a, len, [&](uint16_t t, const uint8_t* d, size_t n) {
      if (t == IFA_LOCAL) local = prefix_of(ifa->ifa_family, d, n, ifa->ifa_prefixlen);
      else if (t == IFA_ADDRESS) address = prefix_of(ifa->ifa_family, d, n, ifa->ifa_prefixlen);
    });
    // IFA_LOCAL is the interface's own address where it differs from IFA_ADDRESS (the peer on
    // point-to-point links); elsewhere only IFA_ADDRESS is set.
    auto p = local ? local : address;
    if (p) out.push_back({int(ifa->ifa_index), *p, ifa->ifa_scope});
  });
  if (!st) return std::unexpected(st.error());
  return out;
}

Result<std::vector<Route>> Socket::routes(int family) {
  Message m(RTM_GETROUTE, NLM_F_DUMP);
  m.header<rtmsg>().rtm_family = uint8_t(family);
  std::vector<Route> out;
  auto st = dump(m, "list routes", [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE) return;
    auto* rt = reinterpret_cast<const rtmsg*>(NLMSG_DATA(h));
    Route r;
    r.family = rt->rtm_family;
    r.table = rt->rtm_table;
    r.protocol = rt->rtm_protocol;
    r.scope = rt->rtm_scope;
    r.type = rt->rtm_type;
    uint32_t table = rt->rtm_table;
    size_t len;
    const uint8_t* a = attrs_of<rtmsg>(h, &len);
    for_each_attr(a, len, [&](uint16_t t, const uint8_t* d, size_t n) {
      if (t == RTA_DST) r.destination = prefix_of(rt->rtm_family, d, n, rt->rtm_dst_len);
      else if (t == RTA_GATEWAY) r.gateway = prefix_of(rt->rtm_family, d, n, uint8_t(ip_length(rt->rtm_family) * 8));
      else if (t == RTA_OIF && n == 4) std::memcpy(&r.oif, d, 4);
      else if (t == RTA_TABLE && n == 4) std::memcpy(&table, d, 4);
    });
    if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST) return;
    out.push_back(r);
  });
  if (!st) return std::unexpected(st.error());
  return out;
}

Result<std::vector<Qdisc>> Socket::qdiscs(int index) {
  Message m(RTM_GETQDISC, NLM_F_DUMP);
  m.header<tcmsg>().tcm_family = AF_UNSPEC;
  std::vector<Qdisc> out;
  auto st = dump(m, "list qdiscs", [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWQDISC) return;
    auto* tc = reinterpret_cast<const tcmsg*>(NLMSG_DATA(h));
    if (index != 0 && tc->tcm_ifindex != index) return;
    Qdisc q;
    q.index = tc->tcm_ifindex;
    q.handle = tc->tcm_handle;
    q.parent = tc->tcm_parent;
    size_t len;
    const uint8_t* a = attrs_of<tcmsg>(h, &len);
    for_each_attr(a, len, [&](uint16_t t, const uint8_t* d, size_t n) {
      if (t == TCA_KIND) q.kind.assign(reinterpret_cast<const char*>(d), strnlen(reinterpret_cast<const char*>(d), n));
    });
    out.push_back(std::move(q));
  });
  if (!st) return std::unexpected(st.error());
  return out;
}

Status Socket::set_link(int index, const LinkChange& c) {
  Message m(RTM_NEWLINK, 0);
  auto& ifi = m.header<ifinfomsg>();
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  if (c.up) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = *c.up ? IFF_UP : 0;
  }
  if (c.mtu) m.put_u32(IFLA_MTU, *c.mtu);
  if (c.name) m.put_string(IFLA_IFNAME, *c.name);
  if (c.mac) m.put(IFLA_ADDRESS, c.mac->data(), c.mac->size());
  return request(m, "set link " + std::to_string(index));
}

Status Socket::add_address(int index, const IpPrefix& address) {
  Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  auto& ifa = m.header<ifaddrmsg>();
  ifa.ifa_family = uint8_t(address.family);
  ifa.ifa_prefixlen = address.prefix_len;
  ifa.ifa_index = uint32_t(index);
  size_t len = ip_length(address.family);
  m.put(IFA_LOCAL, address.bytes.data(), len);
  m.put(IFA_ADDRESS, address.bytes.data(), len);
  if (address.family == AF_INET && address.prefix_len < 31) {
    // The broadcast address, as `ip addr add ... brd +` computes it.
    IpPrefix brd = address;
    uint32_t host_bits = 32 - address.prefix_len;
    uint32_t v;
    std::memcpy(&v, brd.bytes.data(), 4);
    v = htonl(ntohl(v) | ((host_bits == 32) ? 0xffffffffu : ((1u << host_bits) - 1)));
    m.put(IFA_BROADCAST, &v, 4);
  }
  return request(m, "add address " + format_ip(address) + " to link " + std::to_string(index));
}

Status Socket::add_route(int oif, const std::optional<IpPrefix>& destination, const std::optional<IpPrefix>& gateway) {
  Message m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  auto& rt = m.header<rtmsg>();
  int family = destination ? destination->family : gateway ? gateway->family : AF_INET;
  rt.rtm_family = uint8_t(family);
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_type = RTN_UNICAST;
  rt.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rt.rtm_dst_len = destination ? destination->prefix_len : 0;
  size_t len = ip_length(family);
  if (destination) m.put(RTA_DST, destination->bytes.data(), len);
  if (gateway) m.put(RTA_GATEWAY, gateway->bytes.data(), len);
  m.put_u32(RTA_OIF, uint32_t(oif));
  std::string what = "add route " + (destination ? format_ip(*destination) : std::string("default")) +
                     (gateway ? " via " + format_ip(*gateway, false) : std::string()) + " dev " + std::to_string(oif);
  return request(m, what);
}

}  // namespace kata_sentry::netlink
