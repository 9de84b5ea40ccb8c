// A small rtnetlink client: list links, addresses and routes, change a link, add addresses and
// routes, and send any other request built with Message (runtime/network/tc_redirect.cpp adds
// the tc qdiscs and filters with it). Used by the shim in a pod's network namespace and by the
// agent in the guest. A socket works in the network namespace of the thread that opened it,
// whichever thread uses it afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/net_config.h"
#include "core/unique_fd.h"

namespace kata_sentry::netlink {

// One request: nlmsghdr, then the family header (ifinfomsg, tcmsg, ...), then attributes.
class Message {
 public:
  Message(uint16_t type, uint16_t flags);
  // Appends the family header; call once, right after construction.
  template <typename Header>
  Header& header() {
    append(nullptr, sizeof(Header));
    return *reinterpret_cast<Header*>(buf_.data() + header_offset_);
  }
  void put(uint16_t attr, const void* data, size_t len);
  void put_u32(uint16_t attr, uint32_t v) { put(attr, &v, sizeof v); }
  void put_string(uint16_t attr, const std::string& s) { put(attr, s.c_str(), s.size() + 1); }
  // Nested attributes: begin returns a mark for end, which fixes the nest's length.
  size_t begin_nested(uint16_t attr);
  void end_nested(size_t mark);
  // The finished message (length set) with `seq`.
  std::vector<uint8_t>& finish(uint32_t seq);

 private:
  void append(const void* data, size_t len);
  std::vector<uint8_t> buf_;
  size_t header_offset_;
};

struct Link {
  int index = 0;
  std::string name;
  std::optional<MacAddress> mac;
  uint32_t mtu = 0;
  unsigned flags = 0;   // IFF_UP, IFF_LOOPBACK, ...
  std::string kind;     // IFLA_INFO_KIND: "veth", "tun", "bridge", "" when none
};

struct Address {
  int index = 0;
  IpPrefix prefix;
  uint8_t scope = 0;    // RT_SCOPE_*
};

struct Route {
  int family = 0;
  std::optional<IpPrefix> destination;  // nullopt: default route
  std::optional<IpPrefix> gateway;
  int oif = 0;
  uint8_t table = 0, protocol = 0, scope = 0, type = 0;
};

struct Qdisc {
  int index = 0;        // the interface
  std::string kind;     // "ingress", "noqueue", "pfifo_fast", ...
  uint32_t handle = 0, parent = 0;
};

struct LinkChange {
  std::optional<bool> up;
  std::optional<uint32_t> mtu;
  std::optional<std::string> name;
  std::optional<MacAddress> mac;
};

class Socket {
 public:
  // A NETLINK_ROUTE socket in the calling thread's network namespace.
  static Result<Socket> open();

  Result<std::vector<Link>> links();
  Result<Link> link(const std::string& name);  // not_found when absent
  Result<std::vector<Address>> addresses(int family = 0);
  Result<std::vector<Route>> routes(int family);  // the main table's unicast routes
  Result<std::vector<Qdisc>> qdiscs(int index = 0);  // 0: every interface's
  Status set_link(int index, const LinkChange& change);
  Status add_address(int index, const IpPrefix& address);
  // destination nullopt: the default route; the scope is link for an on-link route.
  Status add_route(int oif, const std::optional<IpPrefix>& destination, const std::optional<IpPrefix>& gateway);

  // Sends `m` with NLM_F_ACK and waits for the kernel's answer; `what` names the request in
  // the error: "netlink add qdisc ingress on eth0: File exists".
  Status request(Message& m, const std::string& what);

 private:
  explicit Socket(UniqueFd fd) : fd_(std::move(fd)) {}
  // Sends a dump request and calls `each` with every answer's nlmsghdr.
  template <typename F>
  Status dump(Message& m, const std::string& what, F&& each);

  UniqueFd fd_;
  uint32_t seq_ = 1;
};

}  // namespace kata_sentry::netlink
