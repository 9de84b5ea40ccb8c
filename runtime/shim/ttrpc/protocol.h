// The ttrpc server's decisions that depend only on bytes from the peer, as pure functions (no
// socket, no threads): which frames reach a handler, how a request payload is parsed and routed
// to "service/method", and how a reply is encoded. Server (server.cpp) applies them to every
// frame; tests/fuzz/ttrpc_frame_fuzz.cpp feeds them arbitrary bytes.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "runtime/shim/ttrpc/frame.h"
#include "runtime/shim/ttrpc/status.h"

namespace kata_sentry::shim::ttrpc {

struct Call {
  std::string service;
  std::string method;
  std::string payload;       // the serialized request message
  int64_t timeout_nano = 0;  // the caller's timeout, 0 = none
  std::map<std::string, std::string> metadata;
};

// Returns the serialized response, or a status error. Must not throw: an escaping exception
// becomes an Internal status, but handlers are expected to report errors as RpcStatus.
using Handler = std::function<Reply(const Call&)>;

// service -> method -> handler.
using MethodTable = std::map<std::string, std::map<std::string, Handler, std::less<>>, std::less<>>;

// What the read loop does with a frame before any worker runs.
enum class FrameAction {
  dispatch,  // a request on a client stream: parse and route it on a worker
  ignore,    // a response: nothing of ours awaits one
  refuse,    // answer `error` on the frame's stream and keep reading
};

struct FrameVerdict {
  FrameAction action = FrameAction::dispatch;
  RpcStatus error;  // for refuse
};

// ResourceExhausted for an oversized frame, Unimplemented for a streaming (data) or unknown
// message type, InvalidArgument for a request on an even (server-initiated) stream id.
FrameVerdict triage_frame(const Frame& frame);

struct Route {
  Call call;
  const Handler* handler = nullptr;  // points into the MethodTable; never null on success
};

// Parses a request frame's payload (a wire Request) and finds its handler: InvalidArgument
// when the payload is not a Request, Unimplemented for an unknown service or method.
std::expected<Route, RpcStatus> route_request(uint32_t stream_id, std::string_view payload,
                                              const MethodTable& methods);

// The wire Response for a reply. A response that would exceed kMaxMessageSize becomes a
// ResourceExhausted status instead, since the peer would refuse the frame; bytes of an error
// message that are not UTF-8 become U+FFFD, since the peer would refuse the whole Response.
std::string encode_response(const Reply& reply);

}  // namespace kata_sentry::shim::ttrpc
