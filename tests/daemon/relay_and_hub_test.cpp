// The daemon's in-process plumbing: the event hub's filters and per-subscriber drop counting,
// and the relay link that stands between a shim's stream and a SandboxMonitor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "core/read_file.h"
#include "sentryd/event_hub.h"
#include "sentryd/relay_link.h"
#include "tests/support/event_builder.h"

namespace kata_sentry::daemon {
namespace {

using namespace std::chrono_literals;
using kata_sentry::testing::EventBuilder;

TEST(EventHub, FiltersBySandboxContainerViewAndType) {
  EventHub hub;
  HubFilter f;
  f.sandbox_id = "sb1";
  f.view = View::guest;
  f.event_types = {EventType::openat};
  auto sub = hub.subscribe_events(f);
  Event match = EventBuilder().open("/etc/shadow").guest().container("c1").build();
  match.sandbox_id = "sb1";
  Event other_sandbox = match;
  other_sandbox.sandbox_id = "sb2";
  Event host = match;
  host.view = View::host;
  Event exec = EventBuilder().exec("/bin/sh").guest().build();
  exec.sandbox_id = "sb1";
  for (const Event& e : {other_sandbox, host, exec, match}) hub.publish(e);
  auto got = sub->next(100ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->path, "/etc/shadow");  // the last one published: the three before it were filtered out
  EXPECT_FALSE(sub->next(0ms));  // publish() queues synchronously: nothing can still be on its way
}

TEST(EventHub, AlertsPassByPriorityAndAuditRecordsAlwaysPass) {
  EventHub hub;
  HubFilter f;
  f.min_priority = policy::Priority::warning;
  auto sub = hub.subscribe_alerts(f);
  AlertLine notice{.rule = "quiet", .priority = policy::Priority::notice};
  AlertLine critical{.rule = "loud", .priority = policy::Priority::critical};
  AlertLine audit{.rule = "acted", .priority = policy::Priority::debug, .audit = true};
  for (const auto& a : {notice, critical, audit}) hub.publish(a);
  EXPECT_EQ(sub->next(100ms)->rule, "loud");
  EXPECT_EQ(sub->next(100ms)->rule, "acted");
  EXPECT_FALSE(sub->next(0ms));  // publish() queues synchronously: nothing can still be on its way
}

TEST(EventHub, ASlowSubscriberLosesItsOwnItemsAndCountsThem) {
  EventHub hub;
  auto slow = hub.subscribe_events({});
  Event e = EventBuilder().exec("/bin/true").build();
  for (size_t i = 0; i < EventHub::kQueueCapacity + 10; i++) hub.publish(e);
  EXPECT_EQ(slow->dropped(), 10u);
  EXPECT_EQ(hub.dropped_total(), 10u);
  auto fresh = hub.subscribe_events({});
  hub.publish(e);
  EXPECT_TRUE(fresh->next(100ms));
  EXPECT_EQ(fresh->dropped(), 0u);
}

TEST(EventHub, FiltersByPodAndACompiledCondition) {
  EventHub hub;
  HubFilter f;
  f.pod_name = "web";
  f.pod_namespace = "shop";
  auto cond = policy::EventFilter::compile("proc.name = cat");
  ASSERT_TRUE(cond);
  f.condition = std::make_shared<const policy::EventFilter>(std::move(*cond));
  auto sub = hub.subscribe_events(f, "test");
  Event cat = EventBuilder().exec("/bin/cat").guest().build();
  Event ls = EventBuilder().exec("/bin/ls").guest().build();
  hub.publish(cat, PodRef{"web", "other"});
  hub.publish(ls, PodRef{"web", "shop"});
  hub.publish(cat, PodRef{"api", "shop"});
  hub.publish(cat, PodRef{"web", "shop"});
  auto got = sub->next(100ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->proc.name, "cat");
  EXPECT_FALSE(sub->next(0ms));
}

TEST(EventHub, AlertsByRuleAndSubscriberStatsNameTheClient) {
  EventHub hub;
  HubFilter f;
  f.rules = {"wanted"};
  auto sub = hub.subscribe_alerts(f, "kata-trace alerts (pid 1)");
  hub.publish(AlertLine{.rule = "other", .priority = policy::Priority::critical});
  hub.publish(AlertLine{.rule = "wanted", .priority = policy::Priority::notice});
  EXPECT_EQ(sub->next(100ms)->rule, "wanted");
  EXPECT_FALSE(sub->next(0ms));
  auto stats = hub.subscribers();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].kind, "alerts");
  EXPECT_EQ(stats[0].client, "kata-trace alerts (pid 1)");
  EXPECT_EQ(stats[0].delivered, 1u);
  EXPECT_EQ(stats[0].dropped, 0u);
}

TEST(EventHub, ADroppedSubscriptionIsForgotten) {
  EventHub hub;
  { auto sub = hub.subscribe_events({}); }
  hub.publish(EventBuilder().build());  // must not touch the expired subscription
  SUCCEED();
}

TEST(RelayLink, BatchesReachTheMonitorInOrderUntilClosed) {
  RelayLink link("sb1", [](const v1::RelayCommand&) { return true; });
  auto hooks = link.hooks();
  std::vector<std::string> seen;
  std::thread consumer([&] {
    (void)hooks.stream_events([&](std::string&& b) {
      seen.push_back(std::move(b));
      return true;
    });
  });
  for (int i = 0; i < 200; i++) link.push_batch("batch " + std::to_string(i));
  EXPECT_TRUE(hooks.vm_running());
  link.push_batch("last");
  link.close();
  consumer.join();
  ASSERT_EQ(seen.size(), 201u) << "close() lets the monitor drain what was queued";
  for (int i = 0; i < 200; i++) EXPECT_EQ(seen[i], "batch " + std::to_string(i));
  EXPECT_FALSE(hooks.vm_running());
}

TEST(RelayLink, AReopenedAgentStreamEndsTheMonitorsStreamWithTheShimsReason) {
  RelayLink link("sb1", [](const v1::RelayCommand&) { return true; });
  auto hooks = link.hooks();
  link.push_batch("a");
  link.push_stream_ended("agent StreamEvents: connection lost");
  link.push_batch("b");
  std::vector<std::string> seen;
  auto first = hooks.stream_events([&](std::string&& b) {
    seen.push_back(b);
    return true;
  });
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("connection lost"), std::string::npos) << first.error().message;
  link.close();
  auto second = hooks.stream_events([&](std::string&& b) {
    seen.push_back(b);
    return true;
  });
  EXPECT_TRUE(second);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

// Waits until thread `tid` of this process is asleep (state S in /proc/self/task/<tid>/stat): the
// marker that a call it is in blocks, rather than not having returned yet. False if it never
// sleeps within `timeout` or exits.
bool wait_until_asleep(pid_t tid, std::chrono::milliseconds timeout = 5s) {
  const std::string stat = "/proc/self/task/" + std::to_string(tid) + "/stat";
  for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
    auto text = read_small_file(stat);
    if (!text) return false;  // the thread has exited
    auto state = text->rfind(") ");  // the state follows the parenthesised command name
    if (state != std::string::npos && text->substr(state + 2, 1) == "S") return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(RelayLink, PushBlocksWhileTheQueueIsFullThenResumes) {
  RelayLink link("sb1", [](const v1::RelayCommand&) { return true; });
  for (size_t i = 0; i < RelayLink::kQueueBatches; i++) link.push_batch("x");
  std::atomic<bool> pushed{false};
  std::atomic<pid_t> producer_tid{0};
  std::thread producer([&] {
    producer_tid = ::gettid();
    link.push_batch("one too many");  // nothing else between here and the tid can sleep
    pushed = true;
  });
  while (producer_tid.load() == 0) std::this_thread::yield();
  EXPECT_TRUE(wait_until_asleep(producer_tid)) << "the push past the queue's bound never blocked";
  EXPECT_FALSE(pushed.load()) << "the batch past the queue's bound waits for room (back-pressure to the shim)";
  auto hooks = link.hooks();
  int n = 0;
  std::thread consumer([&] { (void)hooks.stream_events([&](std::string&&) { return ++n < 3; }); });
  consumer.join();
  producer.join();
  EXPECT_TRUE(pushed.load());
}

TEST(RelayLink, CommandsCarryIdsAndTheShimsAnswerComesBack) {
  std::vector<v1::RelayCommand> sent;
  std::mutex mu;
  RelayLink* self = nullptr;
  RelayLink link("sb1", [&](const v1::RelayCommand& c) {
    {
      std::lock_guard lock(mu);
      sent.push_back(c);
    }
    // The shim answers on another thread, like the stream's reader does.
    std::thread([cmd = c, self] {
      v1::RelayResult r;
      r.set_id(cmd.id());
      if (cmd.has_set_enforcement()) r.add_refused("Rule B: not enforceable in the guest");
      if (cmd.has_kill_guest_process()) r.set_error("no such process");
      self->complete(r);
    }).detach();
    return true;
  });
  self = &link;
  auto hooks = link.hooks();
  DenyRule spec;
  spec.name = "Rule A";
  spec.event_types = {EventType::lsm_file_open};
  auto refused = hooks.set_enforcement({spec});
  ASSERT_TRUE(refused) << refused.error().describe();
  EXPECT_EQ(*refused, std::vector<std::string>{"Rule B: not enforceable in the guest"});
  auto killed = hooks.kill_guest_process(42, 9);
  ASSERT_FALSE(killed);
  EXPECT_NE(killed.error().message.find("no such process"), std::string::npos);
  std::lock_guard lock(mu);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].id(), sent[1].id());
  EXPECT_EQ(sent[0].set_enforcement().rules(0).name(), "Rule A");
  EXPECT_EQ(sent[1].kill_guest_process().pid(), 42u);
}

TEST(RelayLink, AnUnansweredCommandTimesOutAndAClosedLinkFailsAtOnce) {
  RelayLink link("sb1", [](const v1::RelayCommand&) { return true; }, 200ms);
  auto hooks = link.hooks();
  auto st = hooks.stop_vm();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::timeout);
  EXPECT_NE(st.error().message.find("sandbox sb1"), std::string::npos);
  link.close();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(hooks.stop_vm());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
}

TEST(RelayLink, ABrokenStreamFailsTheCommand) {
  RelayLink link("sb1", [](const v1::RelayCommand&) { return false; });
  auto st = link.hooks().stop_vm();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("relay is broken"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry::daemon
