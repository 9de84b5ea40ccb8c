#include "grpc_status.h"

namespace kata_sentry {

grpc::Status to_grpc_status(const Error& error) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (error.code) {
    case ErrorCode::invalid_argument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::not_found: code = grpc::StatusCode::NOT_FOUND; break;
    case ErrorCode::permission_denied: code = grpc::StatusCode::PERMISSION_DENIED; break;
    // Not UNAVAILABLE: to the client that means the channel itself is gone.
    case ErrorCode::unavailable: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case ErrorCode::protocol: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::timeout: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case ErrorCode::io: code = grpc::StatusCode::INTERNAL; break;
    case ErrorCode::internal: code = grpc::StatusCode::INTERNAL; break;
  }
  return grpc::Status(code, error.describe());
}

}  // namespace kata_sentry
