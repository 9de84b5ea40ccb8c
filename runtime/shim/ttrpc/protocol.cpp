#include "runtime/shim/ttrpc/protocol.h"

#include "core/utf8.h"
#include "ttrpc.pb.h"

namespace kata_sentry::shim::ttrpc {
namespace wire = ::kata_sentry::ttrpc::wire;  // generated from ttrpc.proto

FrameVerdict triage_frame(const Frame& frame) {
  const FrameHeader& h = frame.header;
  if (frame.oversized)
    return {FrameAction::refuse, {Code::resource_exhausted,
                                  "message length " + std::to_string(h.length) +
                                      " exceeds maximum message size of " + std::to_string(kMaxMessageSize)}};
  if (h.type == MessageType::response) return {FrameAction::ignore, {}};
  if (h.type != MessageType::request)
    return {FrameAction::refuse, {Code::unimplemented, "ttrpc: streaming (message type " +
                                                           std::to_string(int(h.type)) + ") is not supported"}};
  if (h.stream_id % 2 != 1)
    return {FrameAction::refuse, {Code::invalid_argument, "StreamID must be odd for client initiated streams"}};
  return {FrameAction::dispatch, {}};
}

std::expected<Route, RpcStatus> route_request(uint32_t stream_id, std::string_view payload,
                                              const MethodTable& methods) {
  wire::Request req;
  // A frame payload is at most kMaxMessageSize, well inside int.
  if (payload.size() > kMaxMessageSize || !req.ParseFromArray(payload.data(), int(payload.size())))
    return rpc_error(Code::invalid_argument,
                     "ttrpc: request on stream " + std::to_string(stream_id) + " is not a valid Request message");
  auto svc = methods.find(req.service());
  if (svc == methods.end()) return rpc_error(Code::unimplemented, "service " + req.service());
  auto m = svc->second.find(req.method());
  if (m == svc->second.end()) return rpc_error(Code::unimplemented, "method " + req.method());
  Route route{Call{req.service(), req.method(), std::move(*req.mutable_payload()), req.timeout_nano(), {}},
              &m->second};
  for (const auto& kv : req.metadata()) route.call.metadata[kv.key()] = kv.value();
  return route;
}

namespace {

// Serializes a Response; never fails for messages we build ourselves.
std::string serialize(const Reply& reply) {
  wire::Response resp;
  if (reply) {
    resp.set_payload(*reply);
  } else {
    resp.mutable_status()->set_code(static_cast<int32_t>(reply.error().code));
    // A Status message is a proto3 string: a peer's protobuf library (containerd's Go one,
    // ours) refuses the whole Response if it is not UTF-8, and the caller would lose the status.
    resp.mutable_status()->set_message(utf8_or_replacement(reply.error().message));
  }
  return resp.SerializeAsString();
}

}  // namespace

std::string encode_response(const Reply& reply) {
  std::string out = serialize(reply);
  if (out.size() > kMaxMessageSize)
    out = serialize(rpc_error(Code::resource_exhausted,
                              "response of " + std::to_string(out.size()) + " bytes exceeds the maximum message size"));
  return out;
}

}  // namespace kata_sentry::shim::ttrpc
