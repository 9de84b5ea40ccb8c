#include "sentryd/root_only_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>

#include "core/logging.h"
#include "core/peer_credentials.h"

namespace kata_sentry::daemon {
namespace {

bool someone_listens(const sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

Result<std::unique_ptr<RootOnlyListener>> RootOnlyListener::bind(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail(ErrorCode::invalid_argument, "socket path " + path + " is too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::io, "create socket directory " + dir.string() + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0) return fail_errno("chmod 0700 " + dir.string());

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail(ErrorCode::invalid_argument, path + " exists and is not a socket");
    if (someone_listens(addr)) return fail(ErrorCode::unavailable, path + ": another kata-sentryd is serving there");
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("socket for " + path);
  // Created 0600 from the start: no window in which another user could connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 64) != 0) {
    auto e = fail_errno("bind/listen " + path);
    ::close(fd);
    return e;
  }
  std::unique_ptr<RootOnlyListener> l(new RootOnlyListener(fd, path));
  if (::pipe2(l->wake_, O_CLOEXEC) != 0) return fail_errno("pipe");
  return l;
}

RootOnlyListener::~RootOnlyListener() {
  stop();
  if (fd_ >= 0) ::close(fd_);
  for (int f : wake_)
    if (f >= 0) ::close(f);
}

void RootOnlyListener::serve(grpc::Server& server) {
  thread_ = std::thread([this, &server] { accept_loop(server); });
}

void RootOnlyListener::accept_loop(grpc::Server& server) {
  auto log = logger("sentryd");
  for (;;) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log->error("accept on {}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (p[1].revents) return;
    // gRPC drives the connection from its event engine, which needs it non-blocking.
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) log->warn("accept on {}: {}", path_, std::strerror(errno));
      continue;
    }
    if (auto peer = require_peer_uid(c, 0); !peer) {
      ++refused_;
      log->warn("refused a connection on {} from {}: only root may use kata-sentryd", path_, peer.error().describe());
      ::close(c);
      continue;
    }
    grpc::AddInsecureChannelFromFd(&server, c);  // takes the fd
  }
}

void RootOnlyListener::stop() {
  if (thread_.joinable()) {
    char b = 1;
    (void)!::write(wake_[1], &b, 1);
    thread_.join();
  }
  if (!path_.empty()) {
    ::unlink(path_.c_str());
    path_.clear();
  }
}

}  // namespace kata_sentry::daemon
