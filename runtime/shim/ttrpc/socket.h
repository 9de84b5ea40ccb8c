// Unix socket addresses as containerd writes them: "unix:///path" is a filesystem socket,
// anything else names an abstract socket. Returned fds are owned by the caller (UniqueFd).
#pragma once

#include <string>
#include <utility>

#include "core/result.h"
#include "core/unique_fd.h"

namespace kata_sentry::shim::ttrpc {

// Creates, binds and listens; parent directories are created. A filesystem socket is 0600
// from the moment its file appears (no chmod after bind). An abstract socket has no mode at
// all: there Server's peer-credential check is the only guard. Fails with ErrorCode::io and
// errno EADDRINUSE when the address is taken.
Result<UniqueFd> listen_unix(const std::string& address);

// Connects a blocking stream socket to the address.
Result<UniqueFd> connect_unix(const std::string& address);

// Removes a filesystem socket's file; abstract addresses need nothing. Missing is fine.
void remove_socket(const std::string& address);

}  // namespace kata_sentry::shim::ttrpc
