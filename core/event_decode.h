// Decodes one ring-buffer record (struct ks_event) into an Event. Every byte is
// untrusted (a guest kernel wrote it): lengths are bounded, strings are cut at the
// record's end, and a record of another ABI version or size is refused.
#pragma once

#include <cstdint>
#include <span>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry {

// Converts CLOCK_BOOTTIME stamps of the machine that wrote the record to wall time.
class BootClock {
 public:
  BootClock();  // samples the local REALTIME - BOOTTIME offset
  explicit BootClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  uint64_t to_wall_ns(uint64_t boot_ns) const { return boot_ns + offset_ns_; }
  int64_t offset_ns() const { return offset_ns_; }

 private:
  int64_t offset_ns_;
};

// Fails with ErrorCode::protocol naming what is wrong. `view` is the side the record
// came from; nothing in the record can change it.
Result<Event> decode_event(std::span<const uint8_t> record, View view, const BootClock& clock);

}  // namespace kata_sentry
