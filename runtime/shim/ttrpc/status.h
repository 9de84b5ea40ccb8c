// ttrpc carries gRPC status codes. RPC handlers return RpcStatus on failure; kata-sentry's
// Error becomes an RpcStatus in exactly one place, to_rpc_status().
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include "core/result.h"

namespace kata_sentry::shim::ttrpc {

// gRPC status codes (google.rpc.Code); the numbers are the wire values.
enum class Code : int32_t {
  ok = 0,
  cancelled = 1,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  already_exists = 6,
  permission_denied = 7,
  resource_exhausted = 8,
  failed_precondition = 9,
  aborted = 10,
  out_of_range = 11,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  data_loss = 15,
  unauthenticated = 16,
};

struct RpcStatus {
  Code code = Code::unknown;
  std::string message;
};

// A handler's or a call's outcome: the serialized response message, or a status error.
using Reply = std::expected<std::string, RpcStatus>;

inline std::unexpected<RpcStatus> rpc_error(Code code, std::string message) {
  return std::unexpected(RpcStatus{code, std::move(message)});
}

// The one mapping from kata-sentry's error codes to gRPC codes.
RpcStatus to_rpc_status(const Error& e);

// "NotFound", "Unimplemented", ... for logs and test messages.
const char* code_name(Code code);

}  // namespace kata_sentry::shim::ttrpc
