// libFuzzer target: what containerd (or anything that reaches the shim's socket) can send to
// the shim's ttrpc server. The input is one connection's byte stream, delivered in pieces of
// fuzzer-chosen sizes; every frame goes through the server's own steps: read_frame (header,
// length cap, partial frames, EOF and read errors), triage_frame (message type, stream id),
// route_request (wire Request -> service/method handler) and encode_response. The whole
// stream is also routed as one request payload. Nothing may crash, and each step must keep
// the contract its header states.
//
// Input layout: byte 0 shapes the reads (bits 0-5: largest piece, 0 = as much as asked;
// bit 6: the stream ends in EIO instead of EOF; bit 7: every third read fails with EINTR);
// the rest is the stream.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/shim/ttrpc/frame.h"
#include "runtime/shim/ttrpc/protocol.h"
#include "tests/fuzz/fuzz_check.h"
#include "ttrpc.pb.h"

using namespace kata_sentry;
using namespace kata_sentry::shim::ttrpc;
namespace wire = kata_sentry::ttrpc::wire;

namespace {

constexpr std::string_view kTask = "containerd.task.v2.Task";
// Returned by the handler for a call to this method, so that error replies are encoded too.
constexpr std::string_view kFailing = "Kill";

// The methods the shim registers (runtime/shim/task_service.cpp); each handler checks that it
// was reached for its own name and echoes the payload.
const MethodTable& methods() {
  static const MethodTable table = [] {
    MethodTable t;
    for (const char* m : {"Create", "Start", "Delete", "State", "Wait", "Kill", "Pids", "Exec", "ResizePty",
                          "CloseIO", "Connect", "Shutdown", "Stats", "Pause", "Resume", "Update", "Checkpoint"}) {
      t[std::string(kTask)][m] = [m = std::string(m)](const Call& c) -> Reply {
        FUZZ_CHECK(c.service == kTask && c.method == m, "handler for %s reached by %s/%s", m.c_str(),
                   c.service.c_str(), c.method.c_str());
        if (m == kFailing) return rpc_error(Code::not_found, "task " + c.payload + " not found");
        return c.payload;
      };
    }
    return t;
  }();
  return table;
}

// A connection's byte stream with read(2)'s contract.
class Stream {
 public:
  Stream(uint8_t shape, const uint8_t* data, size_t size)
      : data_(data), size_(size), max_piece_(shape & 0x3f), eio_at_end_(shape & 0x40), eintr_(shape & 0x80) {}

  ssize_t read(void* buf, size_t n) {
    if (eintr_ && calls_++ % 3 == 1) {
      errno = EINTR;
      return -1;
    }
    if (pos_ == size_) {
      if (eio_at_end_) {
        errno = EIO;
        return -1;
      }
      return 0;
    }
    size_t m = std::min(n, size_ - pos_);
    if (max_piece_ != 0) m = std::min(m, max_piece_);
    std::memcpy(buf, data_ + pos_, m);
    pos_ += m;
    return ssize_t(m);
  }

  size_t pos() const { return pos_; }
  bool eio_at_end() const { return eio_at_end_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t max_piece_;
  bool eio_at_end_;
  bool eintr_;
  unsigned calls_ = 0;
};

// A refusal carries a real error code and says why.
void check_refusal(const RpcStatus& st, const char* where) {
  FUZZ_CHECK(st.code != Code::ok && !st.message.empty(), "%s: refusal without code or message", where);
}

// route_request against an independent parse of the same payload, then the reply's encoding.
void check_route(uint32_t stream_id, std::string_view payload) {
  auto route = route_request(stream_id, payload, methods());
  wire::Request req;
  bool parses = req.ParseFromArray(payload.data(), int(payload.size()));
  if (!route) {
    check_refusal(route.error(), "route_request");
    if (route.error().code == Code::invalid_argument) {
      FUZZ_CHECK(!parses, "a valid Request refused as invalid");
    } else {
      FUZZ_CHECK(route.error().code == Code::unimplemented, "unexpected code %d", int(route.error().code));
      FUZZ_CHECK(parses, "an invalid Request routed as far as the method lookup");
      auto svc = methods().find(req.service());
      FUZZ_CHECK(svc == methods().end() || !svc->second.contains(req.method()),
                 "registered method %s/%s refused as unimplemented", req.service().c_str(), req.method().c_str());
    }
    // What the server sends back instead.
    FUZZ_CHECK(encode_response(std::unexpected(route.error())).size() <= kMaxMessageSize, "oversized refusal");
    return;
  }
  FUZZ_CHECK(parses, "an invalid Request was routed");
  const Call& call = route->call;
  FUZZ_CHECK(route->handler != nullptr, "routed without a handler");
  FUZZ_CHECK(call.service == req.service() && call.method == req.method() && call.payload == req.payload() &&
                 call.timeout_nano == req.timeout_nano(),
             "the Call differs from the Request");
  auto svc = methods().find(call.service);
  FUZZ_CHECK(svc != methods().end(), "routed to an unregistered service");
  auto m = svc->second.find(call.method);
  FUZZ_CHECK(m != svc->second.end() && &m->second == route->handler, "routed to the wrong handler");
  for (const auto& kv : req.metadata()) FUZZ_CHECK(call.metadata.contains(kv.key()), "metadata key lost");

  Reply reply = (*route->handler)(call);
  std::string out = encode_response(reply);
  FUZZ_CHECK(out.size() <= kMaxMessageSize, "response of %zu bytes", out.size());
  wire::Response resp;
  FUZZ_CHECK(resp.ParseFromString(out), "encode_response made an unparsable Response");
  if (reply) {
    bool capped = resp.status().code() == int32_t(Code::resource_exhausted);
    FUZZ_CHECK(capped || (resp.status().code() == 0 && resp.payload() == *reply), "reply payload changed");
  } else {
    FUZZ_CHECK(resp.status().code() == int32_t(reply.error().code), "error code changed");
    // Only bytes that are not UTF-8 may change (protobuf's parse above checked the result).
    const std::string& said = reply.error().message;
    bool ascii = std::all_of(said.begin(), said.end(), [](char c) { return uint8_t(c) < 0x80; });
    FUZZ_CHECK(!ascii || resp.status().message() == said, "an ASCII error message changed");
  }
}

void check_frames(uint8_t shape, const uint8_t* data, size_t size) {
  Stream stream(shape, data, size);
  ReadSome source = [&stream](void* buf, size_t n) { return stream.read(buf, n); };
  for (;;) {
    size_t start = stream.pos();
    auto frame = read_frame(source);
    if (!frame) {
      const Error& e = frame.error();
      FUZZ_CHECK(stream.pos() == size, "read_frame failed with %zu bytes unread: %s", size - stream.pos(),
                 e.describe().c_str());
      if (stream.eio_at_end()) {
        FUZZ_CHECK(e.code == ErrorCode::io && e.sys_errno == EIO, "EIO reported as %s", e.describe().c_str());
      } else if (start == size) {
        FUZZ_CHECK(e.code == ErrorCode::unavailable, "clean EOF reported as %s", e.describe().c_str());
      } else {
        FUZZ_CHECK(e.code == ErrorCode::protocol, "EOF inside a frame reported as %s", e.describe().c_str());
      }
      return;
    }
    // The frame is exactly the bytes it says it is.
    const FrameHeader& h = frame->header;
    FUZZ_CHECK(stream.pos() - start == kHeaderSize + size_t(h.length), "frame of length %u consumed %zu bytes",
               h.length, stream.pos() - start);
    auto encoded = encode_header(h);
    FUZZ_CHECK(std::memcmp(encoded.data(), data + start, kHeaderSize) == 0, "header does not round-trip");
    if (frame->oversized) {
      FUZZ_CHECK(h.length > kMaxMessageSize && frame->payload.empty(), "oversized flag on a %u-byte frame", h.length);
    } else {
      FUZZ_CHECK(h.length <= kMaxMessageSize && frame->payload.size() == h.length &&
                     std::memcmp(frame->payload.data(), data + start + kHeaderSize, h.length) == 0,
                 "payload differs from the stream");
    }

    FrameVerdict v = triage_frame(*frame);
    switch (v.action) {
      case FrameAction::dispatch:
        FUZZ_CHECK(!frame->oversized && h.type == MessageType::request && h.stream_id % 2 == 1,
                   "dispatched a frame of type %d on stream %u", int(h.type), h.stream_id);
        check_route(h.stream_id, frame->payload);
        break;
      case FrameAction::ignore:
        FUZZ_CHECK(!frame->oversized && h.type == MessageType::response, "ignored a frame of type %d", int(h.type));
        break;
      case FrameAction::refuse:
        check_refusal(v.error, "triage_frame");
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = quiet_protobuf();
  (void)quiet;
  if (size == 0) return 0;
  fuzz_no_throw("ttrpc decoding", [&] {
    check_frames(data[0], data + 1, size - 1);
    check_route(1, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  });
  return 0;
}
