// Recoverable errors: Result<T> for anything the environment or the input can cause.
// Exceptions are kept for fatal start-up problems and are caught in main().
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace kata_sentry {

enum class ErrorCode {
  invalid_argument,  // bad flag, config, rule, spec: the caller's input
  not_found,
  permission_denied,
  unavailable,       // a kernel feature or peer is missing
  io,                // a syscall failed; sys_errno says why
  protocol,          // a peer (e.g. the guest) sent something malformed
  timeout,
  internal,
};

struct Error {
  ErrorCode code = ErrorCode::internal;
  int sys_errno = 0;     // errno when a syscall or libbpf call failed, else 0
  std::string message;   // names the object and the operation: "attach tp/x: EPERM"

  // "message" or "message: strerror(errno)".
  std::string describe() const {
    if (sys_errno == 0) return message;
    return message + ": " + std::strerror(sys_errno);
  }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message, int sys_errno = 0) {
  return std::unexpected(Error{code, sys_errno, std::move(message)});
}
// For a failed syscall: captures errno now.
inline std::unexpected<Error> fail_errno(std::string message) {
  int e = errno;
  return std::unexpected(Error{e == ENOENT ? ErrorCode::not_found
                               : (e == EPERM || e == EACCES) ? ErrorCode::permission_denied
                                                             : ErrorCode::io,
                               e, std::move(message)});
}

}  // namespace kata_sentry
