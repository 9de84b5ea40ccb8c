// The guest sensor's outgoing side: a bounded queue between the ring-buffer readers and the
// one StreamEvents call, with a per-sandbox rate limit (token bucket) and sequence numbers.
// Producers never block: when the queue is full or the bucket is empty the event is dropped
// and counted, so a slow or absent host can never stall the kernel ring-buffer readers.
// Sequence numbers are assigned when an event leaves the queue, so what the host receives
// is contiguous; everything lost before that is in the counters.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "core/event.h"

namespace kata_sentry::guest_probes {

struct EventStreamOptions {
  size_t queue_capacity = 16384;
  double rate_per_second = 20000;  // sustained events/s; 0 = unlimited
  double burst = 40000;            // bucket size
};

struct EventStreamCounters {
  uint64_t queued = 0;
  uint64_t queue_drops = 0;
  uint64_t rate_limited = 0;
  uint64_t sent = 0;  // = the next sequence number
};

class EventStream {
 public:
  explicit EventStream(EventStreamOptions options = {});

  // Never blocks; drops (and counts) when over the rate or the queue is full.
  void push(Event&& event) noexcept;
  // The same for every event of `events`, in order, under one lock and with one wake-up of
  // take(): the reader hands over a whole drain at once, so that a taker waiting for a full
  // batch is not woken (a futex call and a context switch, each) per event. The vector itself
  // is queued (what is admitted of it is always its start): a take() that wants all of it
  // gets it back without moving an event.
  void push_all(std::vector<Event>&& events) noexcept;
  // Waits until at least one event is queued or `wait` runs out. When the previous batch left
  // the queue empty (the stream was idle) the events queued now leave at once; when it left
  // events behind (busy), it waits up to max_delay for a full batch. Then takes up to max_events. first_seq is the sequence
  // number of out[0]. Returns false when woken by close() with nothing queued.
  bool take(std::vector<Event>& out, uint64_t& first_seq, size_t max_events,
            std::chrono::milliseconds max_delay, std::chrono::milliseconds wait);
  // Wakes take() for good (shutdown).
  void close();
  EventStreamCounters counters() const;

 private:
  bool admit_locked(std::chrono::steady_clock::time_point now);

  EventStreamOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Queued events in push order: whole pushed vectors, the first one taken up to head_.
  std::deque<std::vector<Event>> chunks_;
  size_t head_ = 0;
  size_t queued_ = 0;  // events in chunks_ not yet taken
  EventStreamCounters counters_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  bool closed_ = false;
  bool drained_ = true;  // the last take() left nothing queued: the next event is the first after idle
};

}  // namespace kata_sentry::guest_probes
