#include "core/peer_credentials.h"

#include <sys/socket.h>

#include <string>

namespace kata_sentry {

Status require_peer_uid(int fd, uid_t uid) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return fail_errno("SO_PEERCRED");
  if (cred.uid != uid)
    return fail(ErrorCode::permission_denied, "pid " + std::to_string(cred.pid) + " uid " + std::to_string(cred.uid));
  return {};
}

}  // namespace kata_sentry
