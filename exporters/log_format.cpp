#include "exporters/log_format.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <zlib.h>

#include <cstring>

namespace kata_sentry::exporters {
namespace {

constexpr char kMagic[8] = {'K', 'S', 'A', 'U', 'D', 'I', 'T', '\0'};

void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void put_bytes(std::string& s, std::span<const uint8_t> b) { s.append(reinterpret_cast<const char*>(b.data()), b.size()); }

}  // namespace

std::string_view kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::alert: return "alert";
    case RecordKind::audit: return "audit";
    case RecordKind::event: return "event";
    case RecordKind::checkpoint: return "checkpoint";
  }
  return "unknown";
}

bool valid_kind(uint8_t k) { return k >= 1 && k <= 4; }

uint32_t crc32_of(std::span<const uint8_t> bytes) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; bodies are at most kMaxBodySize, headers small.
  return static_cast<uint32_t>(crc32(c, bytes.data(), static_cast<uInt>(bytes.size())));
}

// OpenSSL's SHA-256 uses the CPU's SHA extensions where there are some (about five times
// libsodium's portable code on this machine kind); the digest is the same.
Hash sha256(std::span<const uint8_t> bytes) {
  Hash h{};
  SHA256(bytes.data(), bytes.size(), h.data());
  return h;
}
Hash sha256(std::string_view bytes) {
  return sha256(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::string encode_segment_header(const SegmentHeader& h) {
  std::string s(kMagic, sizeof kMagic);
  put32(s, kFormatVersion);
  put32(s, kSegmentHeaderSize);
  put64(s, h.first_seq);
  put_bytes(s, h.log_id);
  put_bytes(s, h.prev_hash);
  put32(s, crc32_of(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
  put32(s, 0);
  return s;
}

Result<SegmentHeader> decode_segment_header(std::span<const uint8_t> b) {
  if (b.size() < kSegmentHeaderSize)
    return fail(ErrorCode::protocol, "segment header: " + std::to_string(b.size()) + " of " + std::to_string(kSegmentHeaderSize) + " bytes");
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) return fail(ErrorCode::protocol, "segment header: not a kata-sentry audit segment (bad magic)");
  if (get32(b.data() + 8) != kFormatVersion)
    return fail(ErrorCode::protocol, "segment header: format version " + std::to_string(get32(b.data() + 8)) + " (this build reads " +
                                         std::to_string(kFormatVersion) + ")");
  if (get32(b.data() + 12) != kSegmentHeaderSize) return fail(ErrorCode::protocol, "segment header: bad header size");
  if (crc32_of(b.subspan(0, 72)) != get32(b.data() + 72)) return fail(ErrorCode::protocol, "segment header: CRC mismatch");
  SegmentHeader h;
  h.first_seq = get64(b.data() + 16);
  std::memcpy(h.log_id.data(), b.data() + 24, 16);
  std::memcpy(h.prev_hash.data(), b.data() + 40, 32);
  return h;
}

std::string encode_body(const Record& r) {
  std::string s;
  s.reserve(kBodyHeaderSize + r.payload.size());
  s.push_back(static_cast<char>(kFormatVersion));
  s.push_back(static_cast<char>(r.kind));
  s.push_back(0);
  s.push_back(0);
  put64(s, r.seq);
  put64(s, r.host_time_ns);
  put_bytes(s, r.id);
  put_bytes(s, r.prev_hash);
  s += r.payload;
  return s;
}

Result<Record> decode_body(std::span<const uint8_t> b) {
  if (b.size() < kBodyHeaderSize) return fail(ErrorCode::protocol, "record body shorter than its header");
  if (b[0] != kFormatVersion) return fail(ErrorCode::protocol, "record body version " + std::to_string(b[0]));
  if (!valid_kind(b[1])) return fail(ErrorCode::protocol, "record kind " + std::to_string(b[1]) + " is unknown");
  Record r;
  r.kind = static_cast<RecordKind>(b[1]);
  r.seq = get64(b.data() + 4);
  r.host_time_ns = get64(b.data() + 12);
  std::memcpy(r.id.data(), b.data() + 20, 16);
  std::memcpy(r.prev_hash.data(), b.data() + 36, 32);
  r.payload.assign(reinterpret_cast<const char*>(b.data()) + kBodyHeaderSize, b.size() - kBodyHeaderSize);
  return r;
}

std::string encode_frame(std::string_view body) {
  std::string s;
  s.reserve(kFrameHeaderSize + body.size());
  put32(s, static_cast<uint32_t>(body.size()));
  put32(s, crc32_of(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size())));
  s += body;
  return s;
}

Hash append_frame(std::string& out, const Record& r, std::string_view payload) {
  const size_t at = out.size();
  const size_t body_len = kBodyHeaderSize + payload.size();
  out.reserve(at + kFrameHeaderSize + body_len);
  put32(out, static_cast<uint32_t>(body_len));
  put32(out, 0);  // the CRC, below
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(r.kind));
  out.push_back(0);
  out.push_back(0);
  put64(out, r.seq);
  put64(out, r.host_time_ns);
  put_bytes(out, r.id);
  put_bytes(out, r.prev_hash);
  out.append(payload);
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(out.data()) + at + kFrameHeaderSize, body_len);
  uint32_t crc = crc32_of(body);
  for (int i = 0; i < 4; ++i) out[at + 4 + static_cast<size_t>(i)] = static_cast<char>(crc >> (8 * i));
  return sha256(body);
}

FrameView parse_frame(std::span<const uint8_t> b) {
  FrameView v;
  if (b.size() < kFrameHeaderSize) return v;
  uint32_t len = get32(b.data());
  if (len < kBodyHeaderSize || len > kMaxBodySize) {
    v.state = FrameState::bad_length;
    return v;
  }
  if (b.size() < kFrameHeaderSize + len) return v;
  auto body = b.subspan(kFrameHeaderSize, len);
  if (crc32_of(body) != get32(b.data() + 4)) {
    v.state = FrameState::bad_crc;
    return v;
  }
  v.state = FrameState::ok;
  v.body = body;
  v.size = kFrameHeaderSize + len;
  return v;
}

std::string_view frame_state_text(FrameState s) {
  switch (s) {
    case FrameState::ok: return "ok";
    case FrameState::incomplete: return "incomplete record (the file ends inside it)";
    case FrameState::bad_length: return "impossible record length";
    case FrameState::bad_crc: return "CRC mismatch (the record's bytes were changed)";
  }
  return "?";
}

std::string segment_file_name(uint64_t first_seq) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "seg-%020llu.ksa", static_cast<unsigned long long>(first_seq));
  return buf;
}

bool parse_segment_file_name(std::string_view name, uint64_t* first_seq) {
  if (name.size() != 28 || name.substr(0, 4) != "seg-" || name.substr(24) != ".ksa") return false;
  uint64_t v = 0;
  for (char c : name.substr(4, 20)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *first_seq = v;
  return true;
}

std::string hex(std::span<const uint8_t> bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(d[b >> 4]);
    s.push_back(d[b & 15]);
  }
  return s;
}

bool parse_hex(std::string_view t, std::span<uint8_t> out) {
  if (t.size() != out.size() * 2) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nib(t[2 * i]), lo = nib(t[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string uuid_text(const RecordId& id) {
  std::string h = hex(id);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

RecordId new_record_id(uint64_t unix_ns) {
  static const bool sodium_ready = sodium_init() >= 0;  // seeds randombytes once
  (void)sodium_ready;
  RecordId id{};
  randombytes_buf(id.data(), id.size());
  uint64_t ms = unix_ns / 1'000'000;
  for (int i = 0; i < 6; ++i) id[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  id[6] = static_cast<uint8_t>(0x70 | (id[6] & 0x0f));  // version 7
  id[8] = static_cast<uint8_t>(0x80 | (id[8] & 0x3f));  // RFC 4122 variant
  return id;
}

}  // namespace kata_sentry::exporters
