// What the guest sensor streams to the host, as plain structs: the agent fills them
// (guest-probes/guest_sensor.h), proto/guest_wire.h converts them to and from the wire, and
// the host's guest-stream guard (monitor/) takes them in. Everything in here comes from the
// guest, so on the host it is untrusted: counters are informative only, events are re-tagged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"

namespace kata_sentry {

// The guest sensor's own counters.
struct GuestSensorStats {
  uint64_t ringbuf_drops = 0;  // both ring buffers (+ tracepoint pairing-table drops)
  uint64_t rate_limited = 0;   // dropped by the agent's own rate limit
  uint64_t queue_drops = 0;    // dropped in the agent because the stream's queue was full
  uint64_t sent = 0;           // events put on the stream so far (the next first_seq)
  uint64_t decode_errors = 0;  // guest-side only; not carried on the wire
  uint64_t denied = 0;         // LSM refusals counted in the guest kernel; not carried on the wire
  bool lsm_enforcing = false;  // BPF LSM programs are attached and run
  std::string lsm_unavailable_reason;
};

// One EventBatch of StreamEvents: events[i] has sequence number first_seq + i.
struct GuestEventBatch {
  uint64_t first_seq = 0;
  std::vector<Event> events;  // view=guest; the host sets the sandbox fields
  bool heartbeat = false;     // no events: the sensor is alive
  GuestSensorStats stats;
};

}  // namespace kata_sentry
