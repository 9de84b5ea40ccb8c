// The literal list of an `in` / `intersects` check, looked up once per evaluated event.
// std::unordered_set<std::string> hashed every probe with a byte-wise hash, divided by a
// prime and chased a node pointer; on Falco's rules that was the engine's top cost. Here:
//   - a bit per length that occurs in the list rejects most values without reading them
//     (a path rarely has the length of any listed name);
//   - short lists are scanned (length compared first), no hash at all;
//   - longer lists use an open-addressed table, hashed 8 bytes at a time, whose slots keep
//     the hash and length so a probe reads the candidate's bytes only when both agree.
// Built once at load time; lookups never allocate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kata_sentry::policy {

class StringSet {
 public:
  StringSet() = default;
  explicit StringSet(const std::vector<std::string>& items);  // duplicates are fine

  bool contains(std::string_view s) const noexcept;
  size_t size() const { return items_.size(); }

  // Lists up to this long are scanned instead of hashed.
  static constexpr size_t kScanLimit = 8;

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t item = kEmpty;  // index into items_
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static uint64_t length_bit(size_t len) { return uint64_t{1} << (len < 63 ? len : 63); }

  std::vector<std::string> items_;  // distinct
  uint64_t lengths_ = 0;            // length_bit of every item
  std::vector<Slot> slots_;         // empty for a scanned list; else a power of two, at most half full
};

// The hash the table uses (exposed for its tests): any byte of `s` changes it.
uint64_t string_set_hash(std::string_view s) noexcept;

}  // namespace kata_sentry::policy
