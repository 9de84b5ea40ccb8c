// The one place where the host turns a grpc::Status from the agent into an Error (the agent's
// inverse is agent/service/grpc_status.cpp). The guest's text is untrusted: it is cut short
// and stripped of control characters before it reaches a log or a terminal.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <grpcpp/support/status.h>

#include "core/result.h"

namespace kata_sentry::runtime {

// "agent <call> <object>: <what>", e.g. "agent CreateContainer c1: deadline exceeded after
// 10 s", "agent WaitProcess c1/e1: connection lost (guest died?)". object may be empty.
Error agent_error(const grpc::Status& status, std::string_view call, std::string_view object,
                  std::chrono::milliseconds deadline);

}  // namespace kata_sentry::runtime
