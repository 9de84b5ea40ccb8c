// The shim's ttrpc socket talks only to its own uid (root, as containerd runs): a process of
// another user is closed without an answer even when the socket file's mode lets it connect,
// and on an abstract socket, which has no mode at all. Needs root to drop a child to nobody.
#include <gtest/gtest.h>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/shim/ttrpc/frame.h"
#include "runtime/shim/ttrpc/server.h"
#include "runtime/shim/ttrpc/socket.h"

namespace kata_sentry::shim::ttrpc {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

// The child's exit codes.
constexpr int kRefused = 0;        // EOF or reset: closed without an answer
constexpr int kSetupFailed = 10;   // could not become nobody
constexpr int kConnectFailed = 11; // the socket itself kept nobody out
constexpr int kAnswered = 12;      // the server sent bytes back to nobody

// ttrpc Request{service "test.Echo", method "Echo", payload "ping"} on stream 1, encoded by
// hand (protobuf fields 1, 2, 3 are length-delimited): the same bytes go out as nobody and as
// root, so the only difference between the two connections is who sends them.
std::string echo_request_frame() {
  std::string req;
  for (auto [field, value] : {std::pair{1, "test.Echo"}, {2, "Echo"}, {3, "ping"}}) {
    req += char(field << 3 | 2);
    req += char(std::strlen(value));
    req += value;
  }
  auto h = encode_header({uint32_t(req.size()), 1, MessageType::request, 0});
  return std::string(h.begin(), h.end()) + req;
}

bool has_cap_setuid() {
  // CapEff in /proc/self/status; CAP_SETGID is bit 6, CAP_SETUID bit 7.
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return false;
  char line[256];
  unsigned long long caps = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "CapEff: %llx", &caps) == 1) break;
  std::fclose(f);
  return (caps & (1ull << 6)) && (caps & (1ull << 7));
}

struct Target {
  std::string address;  // as listen_unix takes it
  sockaddr_un addr{};   // as connect(2) takes it, built before fork
  socklen_t len = 0;
};

class ShimSocketPeers : public ::testing::TestWithParam<bool /*abstract*/> {
 protected:
  void SetUp() override {
    if (!has_cap_setuid()) GTEST_SKIP() << "needs CAP_SETUID and CAP_SETGID to run a client as uid 65534";
    ASSERT_EQ(::geteuid(), 0u) << "the shim runs as root; so must this test's server";
    server_.register_method("test.Echo", "Echo", [](const Call& c) -> Reply { return c.payload; });

    std::string name = "ks-shimsock-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name)
      if (c == '/') c = '_';
    t_.addr.sun_family = AF_UNIX;
    if (GetParam()) {
      t_.address = name;  // no unix:// prefix: abstract
      std::memcpy(t_.addr.sun_path + 1, name.data(), name.size());
      t_.len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    } else {
      char tmpl[] = "/tmp/ks-shimsock-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      fs::path sock = dir_ / "shim.sock";
      t_.address = "unix://" + sock.string();
      std::memcpy(t_.addr.sun_path, sock.c_str(), sock.string().size() + 1);
      t_.len = socklen_t(sizeof t_.addr);
    }
  }
  void TearDown() override {
    server_.shutdown();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Connects as uid/gid 65534, sends the echo request and reports what came back.
  int nobody_client() const {
    std::string frame = echo_request_frame();
    const Target t = t_;
    pid_t child = ::fork();
    if (child == 0) {
      // Only async-signal-safe calls between fork and _exit: the parent has threads.
      gid_t none[1] = {kNobody};
      if (::setgroups(1, none) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
          ::setresuid(kNobody, kNobody, kNobody) != 0)
        _exit(kSetupFailed);
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) != 0) _exit(kConnectFailed);
      // MSG_NOSIGNAL: the server may already have closed, and SIGPIPE would kill the child.
      (void)!::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
      char buf[64];
      ssize_t n = ::read(fd, buf, sizeof buf);
      // Unread request bytes make the server's close a reset rather than an EOF.
      _exit(n == 0 || (n < 0 && errno == ECONNRESET) ? kRefused : kAnswered);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

  Target t_;
  fs::path dir_;
  Server server_;
};

TEST_P(ShimSocketPeers, AnotherUserIsClosedUnansweredWhileRootIsServed) {
  // A umask of 0 must not matter: the file is 0600 from the moment bind() creates it.
  mode_t old_umask = ::umask(0);
  auto listener = listen_unix(t_.address);
  ::umask(old_umask);
  ASSERT_TRUE(listener) << listener.error().describe();
  if (!GetParam()) {
    struct stat st {};
    ASSERT_EQ(::lstat(t_.addr.sun_path, &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // Loosen the modes as a careless operator might, so that nobody can reach the socket
    // and only the peer-credential check stands in the way.
    ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
    ASSERT_EQ(::chmod(t_.addr.sun_path, 0777), 0);
  }
  ASSERT_TRUE(server_.serve(std::move(*listener)));

  EXPECT_EQ(nobody_client(), kRefused) << "10: could not become nobody, 11: nobody could not connect, 12: nobody got an answer";
  EXPECT_EQ(nobody_client(), kRefused);
  EXPECT_EQ(server_.refused_connections(), 2u);

  // Root, the same bytes on the same socket: answered.
  auto root = connect_unix(t_.address);
  ASSERT_TRUE(root) << root.error().describe();
  std::string frame = echo_request_frame();
  ASSERT_EQ(::write(root->get(), frame.data(), frame.size()), ssize_t(frame.size()));
  auto answer = read_frame(root->get());
  ASSERT_TRUE(answer) << answer.error().describe();
  EXPECT_EQ(answer->header.type, MessageType::response);
  EXPECT_EQ(answer->header.stream_id, 1u);
  EXPECT_NE(answer->payload.find("ping"), std::string::npos);
  EXPECT_EQ(server_.refused_connections(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Socket, ShimSocketPeers, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Abstract" : "Filesystem"; });

}  // namespace
}  // namespace kata_sentry::shim::ttrpc
