#include "guest-probes/event_stream.h"

#include <algorithm>
#include <iterator>

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

void EventStream::push(Event&& event) noexcept {
  std::vector<Event> one;
  try {
    one.push_back(std::move(event));
  } catch (...) {
    std::lock_guard lock(mu_);
    ++counters_.queue_drops;
    return;
  }
  push_all(std::move(one));
}

void EventStream::push_all(std::vector<Event>&& events) noexcept {
  if (events.empty()) return;
  std::unique_lock lock(mu_);
  // One clock read for the whole drain: its events arrived together. Once the bucket or the
  // queue refuses one event it refuses the rest, so what is admitted is a prefix.
  auto now = std::chrono::steady_clock::now();
  size_t admitted = 0;
  while (admitted < events.size() && queued_ < options_.queue_capacity && admit_locked(now)) {
    ++admitted;
    ++queued_;
  }
  if (admitted < events.size()) {
    bool full = queued_ >= options_.queue_capacity;
    (full ? counters_.queue_drops : counters_.rate_limited) += events.size() - admitted;
  }
  if (admitted == 0) return;
  events.resize(admitted);
  try {
    chunks_.push_back(std::move(events));
  } catch (...) {
    queued_ -= admitted;
    counters_.queue_drops += admitted;
    return;
  }
  counters_.queued += admitted;
  lock.unlock();
  cv_.notify_all();  // take() waits for the first event and for a full batch
}

bool EventStream::take(std::vector<Event>& out, uint64_t& first_seq, size_t max_events,
                       std::chrono::milliseconds max_delay, std::chrono::milliseconds wait) {
  out.clear();
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  if (!cv_.wait_until(lock, deadline, [&] { return closed_ || queued_ > 0; })) {
    first_seq = counters_.sent;
    return true;  // nothing within `wait`: the caller sends a heartbeat
  }
  if (queued_ == 0) {
    first_seq = counters_.sent;
    return !closed_;
  }
  // Give a trickle the chance to become a batch, but never past max_delay. The first event
  // after idle leaves at once: a lone event (an attack's one syscall) must not wait.
  if (!drained_ && queued_ < max_events && max_delay.count() > 0) {
    auto until = std::min(deadline, std::chrono::steady_clock::now() + max_delay);
    cv_.wait_until(lock, until, [&] { return closed_ || queued_ >= max_events; });
  }
  const size_t n = std::min(max_events, queued_);
  while (out.size() < n) {
    auto& chunk = chunks_.front();
    size_t left = chunk.size() - head_;
    if (out.empty() && head_ == 0 && left <= n) {
      out = std::move(chunk);  // the whole pushed vector, no event moved
    } else {
      size_t k = std::min(left, n - out.size());
      if (out.capacity() < n) out.reserve(n);
      std::move(chunk.begin() + ptrdiff_t(head_), chunk.begin() + ptrdiff_t(head_ + k), std::back_inserter(out));
      head_ += k;
      if (head_ < chunk.size()) continue;
    }
    chunks_.pop_front();
    head_ = 0;
  }
  queued_ -= n;
  first_seq = counters_.sent;
  counters_.sent += n;
  drained_ = queued_ == 0;
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
