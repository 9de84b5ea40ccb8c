// A FIFO bounded in items and in bytes, for the hand-offs on the detection path (a relay's
// guest batches, a sandbox monitor's inbox). What a producer may do when it is full is the
// producer's choice, per call: wait (back-pressure, for input that can wait: the guest's own
// bounded queue drops and counts upstream) or give up at once (for a producer that must never
// stall, like the node's host probe hub, which then counts the drop).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace kata_sentry {

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Waits for room (an item larger than max_bytes is let in alone, into an empty queue).
  // False once closed: the item was not queued.
  bool push_wait(T item, size_t bytes) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return closed_ || fits(bytes); });
    if (closed_) return false;
    put(std::move(item), bytes);
    return true;
  }
  // Never waits. False when full or closed: the item was not queued (count it).
  bool try_push(T item, size_t bytes) {
    std::lock_guard lock(mu_);
    if (closed_ || !fits(bytes)) return false;
    put(std::move(item), bytes);
    return true;
  }
  // The oldest item, waiting up to `timeout`; nullopt on timeout, or once closed and drained.
  std::optional<T> pop_wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    ready_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    auto [item, bytes] = std::move(items_.front());
    items_.pop_front();
    bytes_ -= bytes;
    room_.notify_all();
    return std::move(item);
  }
  // Producers stop waiting and are refused from now on; what is queued can still be popped.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    room_.notify_all();
    ready_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  bool fits(size_t bytes) const {
    if (items_.empty()) return true;
    return items_.size() < max_items_ && bytes_ + bytes <= max_bytes_;
  }
  void put(T&& item, size_t bytes) {
    items_.emplace_back(std::move(item), bytes);
    bytes_ += bytes;
    ready_.notify_one();
  }

  const size_t max_items_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable room_, ready_;
  std::deque<std::pair<T, size_t>> items_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace kata_sentry
