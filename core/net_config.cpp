#include "core/net_config.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace kata_sentry {

size_t ip_length(int family) { return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0; }

Result<IpPrefix> parse_ip(std::string_view text) {
  IpPrefix p;
  std::string s(text);
  if (::inet_pton(AF_INET, s.c_str(), p.bytes.data()) == 1) {
    p.family = AF_INET;
  } else if (::inet_pton(AF_INET6, s.c_str(), p.bytes.data()) == 1) {
    p.family = AF_INET6;
  } else {
    return fail(ErrorCode::invalid_argument, "\"" + s.substr(0, 64) + "\" is not an IP address");
  }
  p.prefix_len = uint8_t(ip_length(p.family) * 8);
  return p;
}

Result<IpPrefix> parse_ip_prefix(std::string_view text) {
  auto slash = text.find('/');
  auto ip = parse_ip(text.substr(0, slash));
  if (!ip) return fail(ErrorCode::invalid_argument, "\"" + std::string(text.substr(0, 64)) + "\" is not an IP address with a prefix");
  if (slash == std::string_view::npos) return ip;
  std::string_view len = text.substr(slash + 1);
  unsigned n = 0;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec != std::errc() || end != len.data() + len.size() || len.empty() || n > ip_length(ip->family) * 8)
    return fail(ErrorCode::invalid_argument, "\"" + std::string(text.substr(0, 64)) + "\": bad prefix length");
  ip->prefix_len = uint8_t(n);
  return ip;
}

std::string format_ip(const IpPrefix& p, bool with_prefix) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!::inet_ntop(p.family, p.bytes.data(), buf, sizeof buf)) return "?";
  std::string out = buf;
  if (with_prefix) out += "/" + std::to_string(p.prefix_len);
  return out;
}

Result<MacAddress> parse_mac(std::string_view text) {
  MacAddress mac{};
  if (text.size() != 17) return fail(ErrorCode::invalid_argument, "\"" + std::string(text.substr(0, 32)) + "\" is not a MAC address");
  for (size_t i = 0; i < 6; ++i) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data() + 3 * i, text.data() + 3 * i + 2, v, 16);
    if (ec != std::errc() || end != text.data() + 3 * i + 2 || (i < 5 && text[3 * i + 2] != ':'))
      return fail(ErrorCode::invalid_argument, "\"" + std::string(text) + "\" is not a MAC address");
    mac[i] = uint8_t(v);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

}  // namespace kata_sentry
