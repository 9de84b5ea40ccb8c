// The one place where a gRPC server (the agent, kata-sentryd) turns an Error into a
// grpc::Status (the agent's host client has the inverse, runtime/agent_client/agent_errors.cpp;
// keep the two tables in step).
#pragma once

#include <grpcpp/support/status.h>

#include "core/result.h"

namespace kata_sentry {

grpc::Status to_grpc_status(const Error& error);

template <typename T>
grpc::Status to_grpc_status(const Result<T>& result) {
  return result ? grpc::Status::OK : to_grpc_status(result.error());
}

}  // namespace kata_sentry
