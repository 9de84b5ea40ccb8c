// Fan-out of the daemon's events and alerts to StreamEvents / StreamAlerts subscribers. Each
// subscriber has its own bounded queue: while a slow reader's queue is full, new items for it are
// dropped and counted (the stream reports the count), so it never slows the monitors or other
// readers. With no subscriber,
// publishing costs one atomic load.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/bounded_queue.h"
#include "core/event.h"
#include "policy-engine/rule.h"

namespace kata_sentry::daemon {

// An alert or audit record as written to the alerts file.
struct AlertLine {
  uint64_t time_ns = 0;
  std::string sandbox_id;
  std::string container_id;
  std::string rule;
  policy::Priority priority = policy::Priority::informational;
  bool audit = false;
  View view = View::host;
  std::string json;
};

struct HubFilter {
  std::string sandbox_id;                // empty: any
  std::string container_id;              // empty: any
  std::optional<View> view;              // nullopt: both
  std::vector<EventType> event_types;    // events only; empty: all
  std::optional<policy::Priority> min_priority;  // alerts only (audit records always pass)
  bool matches(const Event& e) const;
  bool matches(const AlertLine& a) const;
};

template <typename T>
class Subscription {
 public:
  Subscription(HubFilter filter, size_t capacity) : filter_(std::move(filter)), queue_(capacity, SIZE_MAX) {}
  const HubFilter& filter() const { return filter_; }

  // Never waits: a full queue drops the item and counts it (the subscriber is told at the end).
  void offer(const T& item) {
    if (!queue_.try_push(item, 0) && !queue_.closed()) ++dropped_;
  }
  // Waits up to `timeout` for the next item; nullopt on timeout or once closed and drained.
  std::optional<T> next(std::chrono::milliseconds timeout) { return queue_.pop_wait(timeout); }
  void close() { queue_.close(); }
  bool closed() const { return queue_.closed(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  const HubFilter filter_;
  BoundedQueue<T> queue_;  // bounded in items only: alerts and events are small
  std::atomic<uint64_t> dropped_{0};
};

class EventHub {
 public:
  static constexpr size_t kQueueCapacity = 8192;

  std::shared_ptr<Subscription<Event>> subscribe_events(HubFilter filter);
  std::shared_ptr<Subscription<AlertLine>> subscribe_alerts(HubFilter filter);
  // A subscription ends when its stream handler drops it; publishing forgets expired ones.
  void publish(const Event& event);
  void publish(const AlertLine& alert);
  // Wakes every subscriber for good (daemon shutdown).
  void close_all();

 private:
  std::atomic<int> event_subscribers_{0};
  std::atomic<int> alert_subscribers_{0};
  std::mutex mu_;
  std::vector<std::weak_ptr<Subscription<Event>>> events_;
  std::vector<std::weak_ptr<Subscription<AlertLine>>> alerts_;
};

}  // namespace kata_sentry::daemon
