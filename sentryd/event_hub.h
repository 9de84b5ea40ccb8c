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
#include "policy-engine/event_filter.h"
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
  std::string pod_name;       // of the sandbox, as its shim registered it
  std::string pod_namespace;
  std::string json;
};

// The pod a published event's sandbox belongs to (events do not carry it; the registry knows).
struct PodRef {
  std::string_view name;
  std::string_view ns;
};

struct HubFilter {
  std::string sandbox_id;                // empty: any
  std::string container_id;              // empty: any
  std::optional<View> view;              // nullopt: both
  std::vector<EventType> event_types;    // events only; empty: all
  std::optional<policy::Priority> min_priority;  // alerts only (audit records always pass)
  std::string pod_name;                  // empty: any
  std::string pod_namespace;             // empty: any
  std::vector<std::string> rules;        // alerts only: these rules (and audit records of them); empty: all
  std::shared_ptr<const policy::EventFilter> condition;  // events only; null: all
  bool matches(const Event& e, const PodRef& pod) const;
  bool matches(const AlertLine& a) const;
};

// One subscriber as ListSandboxes reports it.
struct SubscriberStats {
  std::string kind;    // "events" | "alerts"
  std::string client;  // what the subscriber called itself
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  size_t queued = 0;
};

template <typename T>
class Subscription {
 public:
  // `all_dropped`: the hub's node-wide drop counter (for the metrics), bumped with this one's.
  Subscription(HubFilter filter, size_t capacity, std::string client, std::atomic<uint64_t>* all_dropped)
      : filter_(std::move(filter)), client_(std::move(client)), queue_(capacity, SIZE_MAX), all_dropped_(all_dropped) {}
  const HubFilter& filter() const { return filter_; }
  const std::string& client() const { return client_; }

  // Never waits: a full queue drops the item and counts it (the subscriber is told with its
  // next message, and ListSandboxes shows it).
  void offer(const T& item) {
    if (!queue_.try_push(item, 0) && !queue_.closed()) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (all_dropped_) all_dropped_->fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Waits up to `timeout` for the next item; nullopt on timeout or once closed and drained.
  std::optional<T> next(std::chrono::milliseconds timeout) {
    auto item = queue_.pop_wait(timeout);
    if (item) delivered_.fetch_add(1, std::memory_order_relaxed);
    return item;
  }
  void close() { queue_.close(); }
  bool closed() const { return queue_.closed(); }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t delivered() const { return delivered_.load(); }
  size_t queued() const { return queue_.size(); }

 private:
  const HubFilter filter_;
  const std::string client_;
  BoundedQueue<T> queue_;  // bounded in items only: alerts and events are small
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t>* all_dropped_;
};

class EventHub {
 public:
  static constexpr size_t kQueueCapacity = 8192;

  std::shared_ptr<Subscription<Event>> subscribe_events(HubFilter filter, std::string client = {});
  std::shared_ptr<Subscription<AlertLine>> subscribe_alerts(HubFilter filter, std::string client = {});
  // A subscription ends when its stream handler drops it; publishing forgets expired ones.
  void publish(const Event& event, const PodRef& pod = {});
  void publish(const AlertLine& alert);
  std::vector<SubscriberStats> subscribers();
  // Items dropped for slow subscribers since start, all subscribers together.
  uint64_t dropped_total() const { return dropped_total_.load(std::memory_order_relaxed); }
  // Wakes every subscriber for good (daemon shutdown).
  void close_all();

 private:
  std::atomic<int> event_subscribers_{0};
  std::atomic<int> alert_subscribers_{0};
  std::atomic<uint64_t> dropped_total_{0};
  std::mutex mu_;
  std::vector<std::weak_ptr<Subscription<Event>>> events_;
  std::vector<std::weak_ptr<Subscription<AlertLine>>> alerts_;
};

}  // namespace kata_sentry::daemon
