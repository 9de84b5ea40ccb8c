// Who is at the other end of a unix stream socket. A socket file's mode guards only
// filesystem sockets and only as long as nobody loosens it; an abstract socket has no mode at
// all. SO_PEERCRED is the check that holds in every case: the kernel records the peer's
// credentials when it connects, and the peer cannot change or forge them afterwards.
#pragma once

#include <sys/types.h>

#include "core/result.h"

namespace kata_sentry {

// Admits the peer of the connected unix socket `fd` only if its effective uid (at connect
// time) is `uid`. Otherwise fails with ErrorCode::permission_denied and a message naming the
// peer, "pid 4242 uid 65534", or, when the credentials cannot be read (fd is not a unix
// socket), with ErrorCode::io and the errno of SO_PEERCRED. Callers close a refused
// connection without answering; the message is for their log line.
Status require_peer_uid(int fd, uid_t uid);

}  // namespace kata_sentry
