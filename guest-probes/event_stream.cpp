#include "guest-probes/event_stream.h"

#include <algorithm>

namespace kata_sentry::guest_probes {

EventStream::EventStream(EventStreamOptions options)
    : options_(options), tokens_(options.burst), refilled_(std::chrono::steady_clock::now()) {}

bool EventStream::admit_locked(std::chrono::steady_clock::time_point now) {
  if (options_.rate_per_second <= 0) return true;
  double dt = std::chrono::duration<double>(now - refilled_).count();
  refilled_ = now;
  tokens_ = std::min(options_.burst, tokens_ + dt * options_.rate_per_second);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool EventStream::enqueue_locked(Event& event, std::chrono::steady_clock::time_point now) noexcept {
  if (!admit_locked(now)) {
    ++counters_.rate_limited;
    return false;
  }
  if (queue_.size() >= options_.queue_capacity) {
    ++counters_.queue_drops;
    return false;
  }
  try {
    queue_.push_back(std::move(event));
  } catch (...) {
    ++counters_.queue_drops;
    return false;
  }
  ++counters_.queued;
  return true;
}

void EventStream::push(Event&& event) noexcept { push_all(std::span<Event>(&event, 1)); }

void EventStream::push_all(std::span<Event> events) noexcept {
  std::unique_lock lock(mu_);
  // One clock read for the whole drain: its events arrived together.
  auto now = std::chrono::steady_clock::now();
  bool queued = false;
  for (auto& e : events) queued |= enqueue_locked(e, now);
  lock.unlock();
  if (queued) cv_.notify_all();  // take() waits for the first event and for a full batch
}

bool EventStream::take(std::vector<Event>& out, uint64_t& first_seq, size_t max_events,
                       std::chrono::milliseconds max_delay, std::chrono::milliseconds wait) {
  out.clear();
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  if (!cv_.wait_until(lock, deadline, [&] { return closed_ || !queue_.empty(); })) {
    first_seq = counters_.sent;
    return true;  // nothing within `wait`: the caller sends a heartbeat
  }
  if (queue_.empty()) {
    first_seq = counters_.sent;
    return !closed_;
  }
  // Give a trickle the chance to become a batch, but never past max_delay. The first event
  // after idle leaves at once: a lone event (an attack's one syscall) must not wait.
  if (!drained_ && queue_.size() < max_events && max_delay.count() > 0) {
    auto until = std::min(deadline, std::chrono::steady_clock::now() + max_delay);
    cv_.wait_until(lock, until, [&] { return closed_ || queue_.size() >= max_events; });
  }
  size_t n = std::min(max_events, queue_.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  first_seq = counters_.sent;
  counters_.sent += n;
  drained_ = queue_.empty();
  return true;
}

void EventStream::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

EventStreamCounters EventStream::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

}  // namespace kata_sentry::guest_probes
