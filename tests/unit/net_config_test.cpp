// core/net_config: the address and MAC text the shim and the agent exchange for a pod's network.
#include "core/net_config.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace ks = kata_sentry;

TEST(NetConfig, PrefixesRoundTrip) {
  for (const char* text : {"10.88.3.7/24", "fd00:1::5/64", "0.0.0.0/0", "192.168.1.1/32"}) {
    auto p = ks::parse_ip_prefix(text);
    ASSERT_TRUE(p) << text << ": " << p.error().describe();
    EXPECT_EQ(ks::format_ip(*p), text);
  }
  auto host = ks::parse_ip_prefix("10.0.0.1");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->family, AF_INET);
  EXPECT_EQ(host->prefix_len, 32);
  EXPECT_EQ(ks::format_ip(*host, false), "10.0.0.1");
}

TEST(NetConfig, BadAddressesAreRefusedWithTheText) {
  for (const char* text : {"10.0.0.1/33", "fd00::1/129", "10.0.0/24", "10.0.0.1/", "10.0.0.1/2x", "x"}) {
    auto p = ks::parse_ip_prefix(text);
    ASSERT_FALSE(p) << text;
    EXPECT_NE(p.error().message.find(std::string(text).substr(0, 8)), std::string::npos) << p.error().message;
  }
}

TEST(NetConfig, MacAddresses) {
  auto mac = ks::parse_mac("02:42:AC:11:00:0f");
  ASSERT_TRUE(mac) << mac.error().describe();
  EXPECT_EQ(ks::format_mac(*mac), "02:42:ac:11:00:0f");
  for (const char* bad : {"02:42:ac:11:00", "02-42-ac-11-00-0f", "02:42:ac:11:00:0g", "002:42:ac:11:00:0"})
    EXPECT_FALSE(ks::parse_mac(bad)) << bad;
}
