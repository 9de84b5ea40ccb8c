#include "runtime/shim/ttrpc/socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace kata_sentry::shim::ttrpc {
namespace {

constexpr std::string_view kUnixPrefix = "unix://";

struct SockAddr {
  sockaddr_un addr{};
  socklen_t len = 0;
  bool abstract = false;
  std::string path;  // filesystem path, or the abstract name without its leading NUL
};

Result<SockAddr> parse(const std::string& address) {
  SockAddr s;
  s.addr.sun_family = AF_UNIX;
  if (address.starts_with(kUnixPrefix)) {
    s.path = address.substr(kUnixPrefix.size());
  } else {
    s.abstract = true;
    s.path = address.starts_with('@') ? address.substr(1) : address;
  }
  if (s.path.empty()) return fail(ErrorCode::invalid_argument, "socket address \"" + address + "\" is empty");
  size_t need = s.path.size() + (s.abstract ? 1 : 1);  // leading NUL or trailing NUL
  if (need > sizeof(s.addr.sun_path))
    return fail(ErrorCode::invalid_argument, "socket address \"" + address + "\" is longer than " +
                                                 std::to_string(sizeof(s.addr.sun_path) - 1) + " bytes");
  if (s.abstract) {
    std::memcpy(s.addr.sun_path + 1, s.path.data(), s.path.size());
    s.len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + s.path.size());
  } else {
    std::memcpy(s.addr.sun_path, s.path.data(), s.path.size());
    s.len = socklen_t(offsetof(sockaddr_un, sun_path) + s.path.size() + 1);
  }
  return s;
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& address) {
  auto sa = parse(address);
  if (!sa) return std::unexpected(sa.error());
  if (!sa->abstract) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(sa->path).parent_path(), ec);
    if (ec) return fail(ErrorCode::io, "create directory for socket " + sa->path + ": " + ec.message());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket for " + address);
  // Linux gives a socket's file the mode of the socket's own inode (less the umask), so
  // setting 0600 there before bind() leaves no moment in which the file exists with a looser
  // mode. Unlike umask() it touches no process-wide state, so threads creating files at the
  // same time keep their modes.
  if (!sa->abstract && ::fchmod(fd.get(), 0600) != 0) return fail_errno("fchmod 0600 socket for " + address);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa->addr), sa->len) != 0)
    return fail_errno("bind " + address);
  if (!sa->abstract) {
    // A kernel that ignored the inode's mode would have left the umask's: refuse to serve then
    // (a stricter umask narrowing 0600 further is fine).
    struct stat st {};
    Status mode_ok;
    if (::lstat(sa->path.c_str(), &st) != 0) {
      mode_ok = fail_errno("stat socket " + sa->path);
    } else if ((st.st_mode & 0077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 0777));
      mode_ok = fail(ErrorCode::permission_denied, "socket " + sa->path + " was created with mode " + mode + ": group or others could connect");
    }
    if (!mode_ok) {
      ::unlink(sa->path.c_str());
      return std::unexpected(mode_ok.error());
    }
  }
  if (::listen(fd.get(), 64) != 0) return fail_errno("listen " + address);
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& address) {
  auto sa = parse(address);
  if (!sa) return std::unexpected(sa.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket for " + address);
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa->addr), sa->len) != 0) {
    if (errno == EINTR) continue;
    return fail_errno("connect " + address);
  }
  return fd;
}

void remove_socket(const std::string& address) {
  if (address.starts_with(kUnixPrefix)) ::unlink(address.substr(kUnixPrefix.size()).c_str());
}

}  // namespace kata_sentry::shim::ttrpc
