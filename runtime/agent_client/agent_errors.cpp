#include "runtime/agent_client/agent_errors.h"

#include "core/guest_text.h"

namespace kata_sentry::runtime {

namespace {

std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

Error agent_error(const grpc::Status& status, std::string_view call, std::string_view object,
                  std::chrono::milliseconds deadline) {
  std::string prefix = "agent " + std::string(call);
  if (!object.empty()) prefix += " " + std::string(object);
  prefix += ": ";
  const std::string said = sanitize_guest_text(status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Error{ErrorCode::timeout, 0, prefix + "deadline exceeded after " + duration_text(deadline)};
    case grpc::StatusCode::UNAVAILABLE:
      // On a channel over one stream fd this only happens when the stream broke: gRPC cannot
      // reconnect it, so every later call fails the same way.
      return Error{ErrorCode::unavailable, 0, prefix + "connection lost (guest died?)"};
    case grpc::StatusCode::CANCELLED:
      return Error{ErrorCode::unavailable, 0, prefix + "cancelled"};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Error{ErrorCode::protocol, 0, prefix + "refused: " + said};
    case grpc::StatusCode::UNIMPLEMENTED:
      return Error{ErrorCode::protocol, 0, prefix + "the agent does not implement it"};
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Error{ErrorCode::invalid_argument, 0, prefix + said};
    case grpc::StatusCode::NOT_FOUND:
      return Error{ErrorCode::not_found, 0, prefix + said};
    case grpc::StatusCode::PERMISSION_DENIED:
      return Error{ErrorCode::permission_denied, 0, prefix + said};
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Error{ErrorCode::unavailable, 0, prefix + said};
    case grpc::StatusCode::INTERNAL:
      return Error{ErrorCode::io, 0, prefix + said};
    default:
      return Error{ErrorCode::protocol, 0,
                   prefix + "status " + std::to_string(int(status.error_code())) + ": " + said};
  }
}

}  // namespace kata_sentry::runtime
