#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "core/event_decode.h"
#include "kata_sentry/event_abi.h"

namespace kata_sentry {
namespace {

ks_event make_exec_record() {
  ks_event r{};
  r.hdr.abi_version = KS_EVENT_ABI_VERSION;
  r.hdr.type = KS_EVT_EXECVE;
  r.hdr.flags = KS_F_HAS_RES;
  r.hdr.ts_ns = 5'000'000'000ULL;
  r.proc.pid = 42;
  r.proc.tid = 43;
  r.proc.ppid = 1;
  r.proc.uid = 1000;
  r.proc.cgroup_id = 777;
  std::strcpy(r.proc.comm, "bash");
  std::strcpy(r.path, "/usr/bin/true");
  r.path_len = sizeof("/usr/bin/true");
  const char argv[] = "true\0alpha\0beta";
  std::memcpy(r.argv, argv, sizeof argv);
  r.argv_len = sizeof argv;
  r.hdr.argc = 3;
  r.res = 0;
  return r;
}

std::span<const uint8_t> bytes(const ks_event& r) {
  return {reinterpret_cast<const uint8_t*>(&r), sizeof r};
}

TEST(EventDecode, ExecCarriesPathArgsAndResult) {
  auto r = make_exec_record();
  auto e = decode_event(bytes(r), View::host, BootClock(1'000));
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_EQ(e->type, EventType::execve);
  EXPECT_EQ(e->time_ns, 5'000'001'000ULL);
  EXPECT_EQ(e->proc.pid, 42u);
  EXPECT_EQ(e->proc.tid, 43u);
  EXPECT_EQ(e->proc.uid, 1000u);
  EXPECT_EQ(e->proc.exepath, "/usr/bin/true");
  EXPECT_EQ(e->proc.name, "true");
  EXPECT_EQ(e->proc.cmdline(), "true alpha beta");
  EXPECT_TRUE(e->has_res);
  EXPECT_EQ(e->res, 0);
}

TEST(EventDecode, ConnectAddressIsFormatted) {
  ks_event r{};
  r.hdr.abi_version = KS_EVENT_ABI_VERSION;
  r.hdr.type = KS_EVT_CONNECT;
  r.hdr.flags = KS_F_HAS_RES;
  r.res = -111;
  r.addr.family = AF_INET;
  r.addr.port = 9;
  const uint8_t lo[4] = {127, 0, 0, 1};
  std::memcpy(r.addr.addr, lo, 4);
  auto e = decode_event(bytes(r), View::guest, BootClock(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->view, View::guest);
  EXPECT_EQ(e->addr.ip, "127.0.0.1");
  EXPECT_EQ(e->addr.port, 9);
  EXPECT_EQ(e->res, -111);
}

TEST(EventDecode, RefusesWrongSizeVersionAndType) {
  auto r = make_exec_record();
  std::vector<uint8_t> shorter(reinterpret_cast<uint8_t*>(&r), reinterpret_cast<uint8_t*>(&r) + sizeof r - 1);
  EXPECT_EQ(decode_event(shorter, View::host, BootClock(0)).error().code, ErrorCode::protocol);
  r.hdr.abi_version = 99;
  EXPECT_NE(decode_event(bytes(r), View::host, BootClock(0)).error().message.find("ABI version 99"), std::string::npos);
  r = make_exec_record();
  r.hdr.type = 999;
  EXPECT_NE(decode_event(bytes(r), View::host, BootClock(0)).error().message.find("unknown type 999"), std::string::npos);
}

TEST(EventDecode, UnterminatedStringsAndHostileLengthsStayInBounds) {
  auto r = make_exec_record();
  std::memset(r.path, 'A', sizeof r.path);       // no NUL anywhere
  std::memset(r.proc.comm, 'B', sizeof r.proc.comm);
  std::memset(r.argv, 'C', sizeof r.argv);
  r.path_len = 0xFFFF;
  r.argv_len = 0xFFFF;
  r.hdr.argc = 0xFFFF;
  auto e = decode_event(bytes(r), View::guest, BootClock(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path.size(), size_t(KS_PATH_LEN));
  EXPECT_EQ(e->proc.args.size(), 0u);  // one argv string: argv[0] only
}

}  // namespace
}  // namespace kata_sentry
