#include "runtime/shim/ttrpc/frame.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace kata_sentry::shim::ttrpc {
namespace {

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

uint32_t get_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Reads exactly n bytes. Returns how many were read before EOF (n on success) or -1 with errno.
ssize_t read_full(const ReadSome& read_some, void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read_some(static_cast<char*>(buf) + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += size_t(r);
  }
  return ssize_t(done);
}

}  // namespace

std::array<uint8_t, kHeaderSize> encode_header(const FrameHeader& h) {
  std::array<uint8_t, kHeaderSize> b{};
  put_be32(b.data(), h.length);
  put_be32(b.data() + 4, h.stream_id);
  b[8] = static_cast<uint8_t>(h.type);
  b[9] = h.flags;
  return b;
}

FrameHeader decode_header(std::span<const uint8_t, kHeaderSize> b) {
  return FrameHeader{get_be32(b.data()), get_be32(b.data() + 4), static_cast<MessageType>(b[8]), b[9]};
}

Result<Frame> read_frame(int fd) {
  return read_frame([fd](void* buf, size_t n) { return ::read(fd, buf, n); });
}

Result<Frame> read_frame(const ReadSome& read_some) {
  std::array<uint8_t, kHeaderSize> hb{};
  ssize_t n = read_full(read_some, hb.data(), hb.size());
  if (n < 0) return fail_errno("ttrpc: read frame header");
  if (n == 0) return fail(ErrorCode::unavailable, "ttrpc: connection closed by peer");
  if (size_t(n) < hb.size()) return fail(ErrorCode::protocol, "ttrpc: connection closed inside a frame header");

  Frame f;
  f.header = decode_header(hb);
  if (f.header.length > kMaxMessageSize) {
    // Skip the payload so the next frame starts where the peer thinks it does.
    f.oversized = true;
    char sink[64 * 1024];
    size_t left = f.header.length;
    while (left > 0) {
      size_t chunk = left < sizeof sink ? left : sizeof sink;
      ssize_t r = read_full(read_some, sink, chunk);
      if (r < 0) return fail_errno("ttrpc: skip oversized frame");
      if (size_t(r) < chunk) return fail(ErrorCode::protocol, "ttrpc: connection closed inside an oversized frame");
      left -= chunk;
    }
    return f;
  }
  f.payload.resize(f.header.length);
  n = read_full(read_some, f.payload.data(), f.payload.size());
  if (n < 0) return fail_errno("ttrpc: read frame payload");
  if (size_t(n) < f.payload.size()) return fail(ErrorCode::protocol, "ttrpc: connection closed inside a frame payload");
  return f;
}

Status write_frame(int fd, uint32_t stream_id, MessageType type, std::string_view payload, uint8_t flags) {
  if (payload.size() > kMaxMessageSize)
    return fail(ErrorCode::invalid_argument, "ttrpc: message of " + std::to_string(payload.size()) +
                                                 " bytes exceeds the maximum of " + std::to_string(kMaxMessageSize));
  auto header = encode_header({uint32_t(payload.size()), stream_id, type, flags});
  std::string buf;
  buf.reserve(header.size() + payload.size());
  buf.append(reinterpret_cast<const char*>(header.data()), header.size());
  buf.append(payload);
  size_t done = 0;
  while (done < buf.size()) {
    // MSG_NOSIGNAL: a vanished peer must be an error here, not a SIGPIPE for the whole shim.
    ssize_t w = ::send(fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail_errno("ttrpc: write frame");
    }
    done += size_t(w);
  }
  return {};
}

}  // namespace kata_sentry::shim::ttrpc
