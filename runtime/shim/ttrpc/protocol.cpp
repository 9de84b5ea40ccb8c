#include "runtime/shim/ttrpc/protocol.h"

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

// Length of the well-formed UTF-8 sequence at the start of s (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 if it does not start with one.
size_t utf8_sequence(std::string_view s) {
  auto b = [&](size_t i) { return i < s.size() ? uint8_t(s[i]) : 0; };
  auto cont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xbf) { return b(i) >= lo && b(i) <= hi; };
  uint8_t c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    bool second = c == 0xe0 ? cont(1, 0xa0) : c == 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return second && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    bool second = c == 0xf0 ? cont(1, 0x90) : c == 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return second && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// A Status message is a proto3 string: a peer's protobuf library (containerd's Go one, ours)
// refuses the whole Response if it is not UTF-8, and the caller would then lose the status.
// Error texts can carry bytes from files or a cut in the middle of a character, so each byte
// that does not start a well-formed sequence becomes U+FFFD.
std::string as_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    size_t n = utf8_sequence(s);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      n = 1;
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

// Serializes a Response; never fails for messages we build ourselves.
std::string serialize(const Reply& reply) {
  wire::Response resp;
  if (reply) {
    resp.set_payload(*reply);
  } else {
    resp.mutable_status()->set_code(static_cast<int32_t>(reply.error().code));
    resp.mutable_status()->set_message(as_utf8(reply.error().message));
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
