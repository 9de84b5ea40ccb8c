// The audit log's on-disk format, one definition for the writer, the reader and `audit verify`.
//
// A log is a directory of segment files `seg-<first seq, 20 digits>.ksa`. Each segment starts
// with a fixed header and is followed by frames, one per record:
//
//   segment header (80 bytes, little-endian):
//     magic "KSAUDIT\0" | u32 version | u32 header size | u64 first seq | 16-byte log id |
//     32-byte hash of the record before `first seq` (zeros for the first record of a log) |
//     u32 CRC-32 of the bytes before it | u32 zero
//   frame:
//     u32 body length | u32 CRC-32 of the body | body
//   body:
//     u8 body version | u8 kind | u16 zero | u64 seq | u64 host receive time (ns, UTC) |
//     16-byte record id (UUIDv7) | 32-byte SHA-256 of the previous record's body | payload (JSON)
//
// The hash chain: a record's hash is the SHA-256 of its whole body, and the next record's body
// carries it, so changing, removing or reordering any record breaks every later link. The CRC
// tells a torn write (crash) from tampering cheaply; the chain and the signed checkpoints
// (node_key.h) are what make the log tamper-evident.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace kata_sentry::exporters {

using Hash = std::array<uint8_t, 32>;
using RecordId = std::array<uint8_t, 16>;
using LogId = std::array<uint8_t, 16>;

// Fixed values: they are on disk.
enum class RecordKind : uint8_t {
  alert = 1,       // a rule matched (Falco JSON)
  audit = 2,       // what the runtime did about it (enforcement, monitoring lifecycle)
  event = 3,       // an event, when the log is configured to keep events
  checkpoint = 4,  // a signed (sequence, chain head, time)
};
std::string_view kind_name(RecordKind kind);
bool valid_kind(uint8_t kind);

inline constexpr size_t kSegmentHeaderSize = 80;
inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr size_t kBodyHeaderSize = 68;
// A record larger than this is refused: a frame length beyond it is damage, not data.
inline constexpr size_t kMaxBodySize = 4u << 20;
inline constexpr uint32_t kFormatVersion = 1;

struct SegmentHeader {
  uint64_t first_seq = 0;
  LogId log_id{};
  Hash prev_hash{};
};

struct Record {
  RecordKind kind = RecordKind::alert;
  uint64_t seq = 0;
  uint64_t host_time_ns = 0;
  RecordId id{};
  Hash prev_hash{};
  std::string payload;  // JSON text
};

std::string encode_segment_header(const SegmentHeader& header);
// Fails (protocol) naming what is wrong: magic, version, CRC.
Result<SegmentHeader> decode_segment_header(std::span<const uint8_t> bytes);

// The body of a record (what is hashed).
std::string encode_body(const Record& record);
Result<Record> decode_body(std::span<const uint8_t> body);
// Length + CRC + body.
std::string encode_frame(std::string_view body);
// The frame of `record` (whose payload is `payload`) appended to `out` in place, without
// intermediate copies (the writer's hot path); returns the record's hash (of its body).
Hash append_frame(std::string& out, const Record& header, std::string_view payload);
inline size_t frame_size(size_t payload_size) { return kFrameHeaderSize + kBodyHeaderSize + payload_size; }

Hash sha256(std::span<const uint8_t> bytes);
Hash sha256(std::string_view bytes);
uint32_t crc32_of(std::span<const uint8_t> bytes);

// What a frame at some offset is.
enum class FrameState {
  ok,
  incomplete,  // fewer bytes than the header or the length says: a torn tail (or a truncation)
  bad_length,  // the length is zero or beyond kMaxBodySize
  bad_crc,     // the body does not match its CRC
};
struct FrameView {
  FrameState state = FrameState::incomplete;
  std::span<const uint8_t> body;  // valid when ok
  size_t size = 0;                // frame size (header + body) when ok
};
FrameView parse_frame(std::span<const uint8_t> bytes);
std::string_view frame_state_text(FrameState state);

// "seg-00000000000000000001.ksa" and back.
std::string segment_file_name(uint64_t first_seq);
bool parse_segment_file_name(std::string_view name, uint64_t* first_seq);

// The standard text forms.
std::string hex(std::span<const uint8_t> bytes);
bool parse_hex(std::string_view text, std::span<uint8_t> out);
std::string uuid_text(const RecordId& id);
// A new UUIDv7 (48-bit Unix milliseconds, then random bits): unique, and ordered by time.
RecordId new_record_id(uint64_t unix_ns);

}  // namespace kata_sentry::exporters
