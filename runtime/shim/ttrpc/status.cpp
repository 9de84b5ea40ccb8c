#include "runtime/shim/ttrpc/status.h"

namespace kata_sentry::shim::ttrpc {

RpcStatus to_rpc_status(const Error& e) {
  Code code = Code::internal;
  switch (e.code) {
    case ErrorCode::invalid_argument: code = Code::invalid_argument; break;
    case ErrorCode::not_found: code = Code::not_found; break;
    case ErrorCode::permission_denied: code = Code::permission_denied; break;
    case ErrorCode::unavailable: code = Code::unavailable; break;
    case ErrorCode::io: code = Code::internal; break;
    case ErrorCode::protocol: code = Code::internal; break;
    case ErrorCode::timeout: code = Code::deadline_exceeded; break;
    case ErrorCode::internal: code = Code::internal; break;
  }
  return {code, e.describe()};
}

const char* code_name(Code code) {
  switch (code) {
    case Code::ok: return "OK";
    case Code::cancelled: return "Canceled";
    case Code::unknown: return "Unknown";
    case Code::invalid_argument: return "InvalidArgument";
    case Code::deadline_exceeded: return "DeadlineExceeded";
    case Code::not_found: return "NotFound";
    case Code::already_exists: return "AlreadyExists";
    case Code::permission_denied: return "PermissionDenied";
    case Code::resource_exhausted: return "ResourceExhausted";
    case Code::failed_precondition: return "FailedPrecondition";
    case Code::aborted: return "Aborted";
    case Code::out_of_range: return "OutOfRange";
    case Code::unimplemented: return "Unimplemented";
    case Code::internal: return "Internal";
    case Code::unavailable: return "Unavailable";
    case Code::data_loss: return "DataLoss";
    case Code::unauthenticated: return "Unauthenticated";
  }
  return "Unknown";
}

}  // namespace kata_sentry::shim::ttrpc
