// ttrpc framing: a 10-byte header (big-endian uint32 payload length, big-endian uint32 stream
// id, uint8 message type, uint8 flags) followed by the payload. Streams started by a client
// have odd ids. A payload above kMaxMessageSize is refused: the reader skips its bytes so the
// connection stays usable, and the server answers ResourceExhausted on that stream.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace kata_sentry::shim::ttrpc {

inline constexpr size_t kHeaderSize = 10;
inline constexpr uint32_t kMaxMessageSize = 4u << 20;

enum class MessageType : uint8_t {
  request = 1,
  response = 2,
  data = 3,  // streaming data frames (ttrpc >= 1.2); containerd 1.6 never sends them
};

struct FrameHeader {
  uint32_t length = 0;
  uint32_t stream_id = 0;
  MessageType type = MessageType::request;
  uint8_t flags = 0;
};

struct Frame {
  FrameHeader header;
  std::string payload;
  bool oversized = false;  // payload was longer than kMaxMessageSize and was skipped
};

std::array<uint8_t, kHeaderSize> encode_header(const FrameHeader& h);
FrameHeader decode_header(std::span<const uint8_t, kHeaderSize> bytes);

// Reads one frame from a blocking stream socket. Fails with ErrorCode::unavailable when the
// peer closed the connection cleanly between frames, ErrorCode::protocol when it closed in the
// middle of one, ErrorCode::io on a read error.
Result<Frame> read_frame(int fd);

// A byte source with read(2)'s contract: up to n bytes into buf, the count read, 0 at the end
// of the stream, -1 with errno set on an error (EINTR is retried).
using ReadSome = std::function<ssize_t(void* buf, size_t n)>;

// read_frame(fd) over any byte source: the same decoding, with the same errors, without a
// socket (tests/fuzz/ttrpc_frame_fuzz.cpp feeds it arbitrary bytes in arbitrary pieces).
Result<Frame> read_frame(const ReadSome& read_some);

// Writes one whole frame (header and payload); the caller serializes writers. Refuses a
// payload above kMaxMessageSize (ErrorCode::invalid_argument) since the peer would refuse it.
Status write_frame(int fd, uint32_t stream_id, MessageType type, std::string_view payload, uint8_t flags = 0);

}  // namespace kata_sentry::shim::ttrpc
