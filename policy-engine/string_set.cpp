#include "policy-engine/string_set.h"

#include "policy-engine/bytes_equal.h"

#include <algorithm>
#include <cstring>

namespace kata_sentry::policy {
namespace {

uint64_t mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  return x;
}

}  // namespace

uint64_t string_set_hash(std::string_view s) noexcept {
  uint64_t h = mix(s.size() + 0x51ed270b27d1a5c3ull);
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mix(h ^ w) + 0x2545f4914f6cdd1dull;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mix(h ^ w ^ (uint64_t{n} << 56));
  }
  return h;
}

StringSet::StringSet(const std::vector<std::string>& items) {
  items_ = items;
  std::sort(items_.begin(), items_.end());
  items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
  for (const auto& s : items_) lengths_ |= length_bit(s.size());
  if (items_.size() <= kScanLimit) return;
  size_t cap = 16;
  while (cap < items_.size() * 2) cap *= 2;
  slots_.resize(cap);
  for (uint32_t i = 0; i < items_.size(); ++i) {
    uint64_t h = string_set_hash(items_[i]);
    size_t at = h & (cap - 1);
    while (slots_[at].item != kEmpty) at = (at + 1) & (cap - 1);
    slots_[at] = {static_cast<uint32_t>(h >> 32), i};
  }
}

bool StringSet::contains(std::string_view s) const noexcept {
  if (!(lengths_ & length_bit(s.size()))) return false;
  if (slots_.empty()) {
    for (const auto& item : items_)
      if (same_text(item, s)) return true;
    return false;
  }
  uint64_t h = string_set_hash(s);
  const auto want = static_cast<uint32_t>(h >> 32);
  const size_t mask = slots_.size() - 1;
  for (size_t at = h & mask;; at = (at + 1) & mask) {
    const Slot& slot = slots_[at];
    if (slot.item == kEmpty) return false;
    if (slot.hash != want) continue;
    if (same_text(items_[slot.item], s)) return true;
  }
}

}  // namespace kata_sentry::policy
