#include <linux/types.h>
#include <sys/socket.h>

#include <cstring>
#include <string_view>
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

// A successful exec as sched_process_exec sends it: the record plus the new image's tail.
ks_exec_event make_exec_with_tail(std::string_view args, std::string_view env, std::string_view cwd_rev,
                                  std::string_view exe_rev, uint32_t flags = 0) {
  ks_exec_event x{};
  x.ev = make_exec_record();
  std::strcpy(x.ev.proc.comm, "sh");
  std::memcpy(x.x.args, args.data(), args.size());
  x.x.args_len = uint16_t(args.size());
  std::memcpy(x.x.env, env.data(), env.size());
  x.x.env_len = uint16_t(env.size());
  std::memcpy(x.x.cwd, cwd_rev.data(), cwd_rev.size());
  x.x.cwd_len = uint16_t(cwd_rev.size());
  std::memcpy(x.x.exe, exe_rev.data(), exe_rev.size());
  x.x.exe_len = uint16_t(exe_rev.size());
  x.x.flags = flags;
  return x;
}

std::span<const uint8_t> bytes(const ks_exec_event& r) {
  return {reinterpret_cast<const uint8_t*>(&r), sizeof r};
}

using namespace std::string_view_literals;

// sh -c 'echo "|/x" > /proc/sys/kernel/core_pattern' as Falco shows it: the argv is the
// image's, not the 16-argument, 512-byte sys_enter copy.
TEST(EventDecode, ExecTailCarriesArgvEnvCwdAndResolvedExe) {
  auto x = make_exec_with_tail("sh\0-c\0echo \"|/x\" > /proc/sys/kernel/core_pattern\0"sv, "PATH=/bin\0HOME=/root\0"sv,
                               "work\0tmp\0"sv, "busybox\0bin\0"sv);
  auto e = decode_event(bytes(x), View::guest, BootClock(0));
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_EQ(e->proc.cmdline(), "sh -c echo \"|/x\" > /proc/sys/kernel/core_pattern");
  EXPECT_EQ(e->proc.args, (std::vector<std::string>{"-c", "echo \"|/x\" > /proc/sys/kernel/core_pattern"}));
  EXPECT_EQ(e->proc.env, (std::vector<std::string>{"PATH=/bin", "HOME=/root"}));
  EXPECT_EQ(e->proc.cwd, "/tmp/work");
  EXPECT_EQ(e->proc.exepath, "/bin/busybox");  // resolved: the path asked for stays in e->path
  EXPECT_EQ(e->path, "/usr/bin/true");
  EXPECT_EQ(e->proc.name, "sh");
  EXPECT_FALSE(e->proc.args_truncated);
  EXPECT_FALSE(e->proc.exe_deleted);
}

TEST(EventDecode, ExecTailMarksTruncationAndDeletedExecutables) {
  auto x = make_exec_with_tail("x\0a\0b"sv, "A=1"sv, ""sv, "memfd:payload\0"sv,
                               KS_X_ARGS_TRUNCATED | KS_X_ENV_TRUNCATED | KS_X_EXE_DELETED | KS_X_CWD_TRUNCATED);
  auto e = decode_event(bytes(x), View::guest, BootClock(0));
  ASSERT_TRUE(e) << e.error().describe();
  EXPECT_TRUE(e->proc.args_truncated);
  EXPECT_EQ(e->proc.cmdline(), "sh a b ...");
  EXPECT_TRUE(e->proc.env_truncated);
  EXPECT_EQ(e->proc.env, std::vector<std::string>{"A=1"});  // the cut last string counts
  EXPECT_TRUE(e->proc.exe_deleted);
  EXPECT_EQ(e->proc.exepath, "/memfd:payload");
  EXPECT_EQ(e->proc.cwd, "...");  // a walk cut before the root is marked
}

TEST(EventDecode, ExecTailNearMisses) {
  // The root as cwd is an empty walk; an empty exe walk falls back to the path asked for.
  auto x = make_exec_with_tail("true\0"sv, ""sv, ""sv, ""sv);
  auto e = decode_event(bytes(x), View::host, BootClock(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->proc.cwd, "/");
  EXPECT_EQ(e->proc.exepath, "/usr/bin/true");
  EXPECT_TRUE(e->proc.env.empty());
  EXPECT_TRUE(e->proc.args.empty());
  // Hostile lengths stay inside their buffers.
  x.x.args_len = x.x.env_len = x.x.cwd_len = x.x.exe_len = 0xFFFF;
  std::memset(x.x.args, 'a', sizeof x.x.args);
  std::memset(x.x.cwd, 'c', sizeof x.x.cwd);
  e = decode_event(bytes(x), View::guest, BootClock(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->proc.args.size(), 0u);
  EXPECT_EQ(e->proc.cwd.size(), size_t(KS_PATH_LEN) + 1);
  // Only an exec may carry a tail.
  x.ev.hdr.type = KS_EVT_OPENAT;
  auto refused = decode_event(bytes(x), View::guest, BootClock(0));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("openat record with an exec tail"), std::string::npos);
}

TEST(EventDecode, CapabilitiesFileObjectAndSyscall) {
  ks_event r{};
  r.hdr.abi_version = KS_EVENT_ABI_VERSION;
  r.hdr.type = KS_EVT_LSM_FILE_OPEN;
  r.hdr.flags = KS_F_HAS_SYSCALL;
  r.proc.cap_effective = 1ull << 21;
  r.proc.cap_permitted = (1ull << 21) | (1ull << 16);
  r.file.mode = 0020600;           // S_IFCHR
  r.file.rdev = (1u << 20) | 1u;   // char 1:1, /dev/mem
  r.file.dev = (0u << 20) | 5u;
  r.file.ino = 9;
  r.file.nlink = 1;
  r.syscall = 304;
  auto e = decode_event(bytes(r), View::guest, BootClock(0));
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->proc.caps);
  EXPECT_EQ(e->proc.caps->effective, 1ull << 21);
  EXPECT_EQ(e->proc.caps->permitted, (1ull << 21) | (1ull << 16));
  EXPECT_TRUE(e->file.is_device());
  EXPECT_EQ(e->file.rdev_major, 1u);
  EXPECT_EQ(e->file.rdev_minor, 1u);
  EXPECT_EQ(e->file.dev_minor, 5u);
  EXPECT_EQ(e->file.ino, 9u);
  EXPECT_EQ(e->syscall, 304);
  // Near miss: no file identity, no syscall flag.
  r.file = {};
  r.hdr.flags = 0;
  e = decode_event(bytes(r), View::guest, BootClock(0));
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->file.known());
  EXPECT_FALSE(e->syscall);
}

// Every type the probes of issue 11 produce decodes, with its argument names.
TEST(EventDecode, NewTypesDecodeWithTheirArguments) {
  struct Case {
    uint16_t type;
    std::vector<std::string_view> args;
  };
  const Case cases[] = {
      {KS_EVT_MKDIRAT, {"mode", "dirfd"}},      {KS_EVT_RMDIR, {}},
      {KS_EVT_SETUID, {"uid"}},                 {KS_EVT_SETGID, {"gid"}},
      {KS_EVT_SETRESUID, {"ruid", "euid", "suid"}}, {KS_EVT_SETRESGID, {"rgid", "egid", "sgid"}},
      {KS_EVT_CAPSET, {"cap_effective", "cap_permitted", "cap_inheritable"}},
      {KS_EVT_RECVFROM, {"fd", "size"}},        {KS_EVT_USERFAULTFD, {"flags"}},
      {KS_EVT_PERF_EVENT_OPEN, {"type", "pid", "cpu", "flags"}},
      {KS_EVT_OPEN_BY_HANDLE_AT, {"mountfd", "flags"}}, {KS_EVT_NAME_TO_HANDLE_AT, {"dirfd", "flags"}},
      {KS_EVT_KEYCTL, {"operation", "arg2"}},   {KS_EVT_ADD_KEY, {"keyring"}},
      {KS_EVT_REQUEST_KEY, {"keyring"}},        {KS_EVT_KEXEC_LOAD, {"nr_segments", "flags"}},
      {KS_EVT_KEXEC_FILE_LOAD, {"kernel_fd", "initrd_fd", "flags"}},
      {KS_EVT_CHROOT, {}},                      {KS_EVT_PIVOT_ROOT, {}},
      {KS_EVT_PRCTL, {"option", "arg2"}},       {KS_EVT_PROCESS_VM_READV, {"pid"}},
      {KS_EVT_PROCESS_VM_WRITEV, {"pid"}},      {KS_EVT_IO_URING_SETUP, {"entries", "flags"}},
      {KS_EVT_SYMLINKAT, {}},                   {KS_EVT_LINKAT, {"flags"}},
      {KS_EVT_SENDTO, {"fd", "size"}},
      {KS_EVT_LSM_KERNEL_LOAD_DATA, {"id"}},    {KS_EVT_LSM_ANON_INODE, {}},
      {KS_EVT_LSM_PERF_EVENT_OPEN, {"type"}},   {KS_EVT_LSM_USERNS_CREATE, {"flags"}},
      {KS_EVT_LSM_SOCKET_CREATE, {"domain", "type", "proto"}}, {KS_EVT_LSM_SB_PIVOTROOT, {}},
      {KS_EVT_LSM_URING, {"op"}},
  };
  for (const auto& c : cases) {
    ks_event r{};
    r.hdr.abi_version = KS_EVENT_ABI_VERSION;
    r.hdr.type = c.type;
    r.hdr.flags = KS_F_HAS_RES;
    for (size_t i = 0; i < 4; ++i) r.arg[i] = 100 + i;
    std::strcpy(r.path, "/p");
    r.path_len = 3;
    auto e = decode_event(bytes(r), View::guest, BootClock(0));
    ASSERT_TRUE(e) << "type " << c.type << ": " << e.error().describe();
    EXPECT_FALSE(event_type_name(e->type).empty()) << c.type;
    auto names = event_arg_names(e->type);
    ASSERT_EQ(names.size(), c.args.size()) << event_type_name(e->type);
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(names[i], c.args[i]) << event_type_name(e->type);
      EXPECT_EQ(e->arg[i], 100 + i) << event_type_name(e->type);
    }
    EXPECT_EQ(e->path, "/p");
  }
}

}  // namespace
}  // namespace kata_sentry
