#include "sentryd/event_hub.h"

#include <algorithm>

namespace kata_sentry::daemon {
namespace {

template <typename T, typename... Context>
void publish_to(std::mutex& mu, std::vector<std::weak_ptr<Subscription<T>>>& subs, std::atomic<int>& count, const T& item,
                const Context&... context) {
  std::lock_guard lock(mu);
  std::erase_if(subs, [](const auto& w) { return w.expired(); });
  count.store(int(subs.size()));
  for (const auto& w : subs)
    if (auto s = w.lock(); s && s->filter().matches(item, context...)) s->offer(item);
}

template <typename T>
void collect(const std::vector<std::weak_ptr<Subscription<T>>>& subs, const char* kind, std::vector<SubscriberStats>& out) {
  for (const auto& w : subs)
    if (auto s = w.lock()) out.push_back({kind, s->client(), s->delivered(), s->dropped(), s->queued()});
}

}  // namespace

bool HubFilter::matches(const Event& e, const PodRef& pod) const {
  if (!sandbox_id.empty() && e.sandbox_id != sandbox_id) return false;
  if (!container_id.empty() && e.container_id != container_id) return false;
  if (view && e.view != *view) return false;
  if (!pod_name.empty() && pod.name != pod_name) return false;
  if (!pod_namespace.empty() && pod.ns != pod_namespace) return false;
  if (!event_types.empty() && std::find(event_types.begin(), event_types.end(), e.type) == event_types.end()) return false;
  // Last: the cheap checks above decide most events before the condition runs.
  if (condition && !condition->matches(e)) return false;
  return true;
}

bool HubFilter::matches(const AlertLine& a) const {
  if (!sandbox_id.empty() && a.sandbox_id != sandbox_id) return false;
  if (!container_id.empty() && a.container_id != container_id) return false;
  if (view && a.view != *view) return false;
  if (!pod_name.empty() && a.pod_name != pod_name) return false;
  if (!pod_namespace.empty() && a.pod_namespace != pod_namespace) return false;
  if (!rules.empty() && std::find(rules.begin(), rules.end(), a.rule) == rules.end()) return false;
  // Priorities are ordered most severe first.
  if (!a.audit && min_priority && a.priority > *min_priority) return false;
  return true;
}

std::shared_ptr<Subscription<Event>> EventHub::subscribe_events(HubFilter filter, std::string client) {
  auto s = std::make_shared<Subscription<Event>>(std::move(filter), kQueueCapacity, std::move(client), &dropped_total_);
  std::lock_guard lock(mu_);
  events_.push_back(s);
  event_subscribers_.store(int(events_.size()));
  return s;
}

std::shared_ptr<Subscription<AlertLine>> EventHub::subscribe_alerts(HubFilter filter, std::string client) {
  auto s = std::make_shared<Subscription<AlertLine>>(std::move(filter), kQueueCapacity, std::move(client), &dropped_total_);
  std::lock_guard lock(mu_);
  alerts_.push_back(s);
  alert_subscribers_.store(int(alerts_.size()));
  return s;
}

void EventHub::publish(const Event& event, const PodRef& pod) {
  if (event_subscribers_.load(std::memory_order_relaxed) == 0) return;
  publish_to(mu_, events_, event_subscribers_, event, pod);
}

void EventHub::publish(const AlertLine& alert) {
  if (alert_subscribers_.load(std::memory_order_relaxed) == 0) return;
  publish_to(mu_, alerts_, alert_subscribers_, alert);
}

std::vector<SubscriberStats> EventHub::subscribers() {
  std::vector<SubscriberStats> out;
  std::lock_guard lock(mu_);
  collect(events_, "events", out);
  collect(alerts_, "alerts", out);
  return out;
}

void EventHub::close_all() {
  std::lock_guard lock(mu_);
  for (const auto& w : events_)
    if (auto s = w.lock()) s->close();
  for (const auto& w : alerts_)
    if (auto s = w.lock()) s->close();
}

}  // namespace kata_sentry::daemon
