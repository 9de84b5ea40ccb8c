#include "guest-probes/event_stream.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace kata_sentry::guest_probes {
namespace {

using namespace std::chrono_literals;

Event ev(uint32_t pid) {
  Event e;
  e.type = EventType::openat;
  e.proc.pid = pid;
  return e;
}

TEST(EventStream, BatchesCarryContiguousSequenceNumbers) {
  EventStream s({.queue_capacity = 100, .rate_per_second = 0, .burst = 0});
  for (uint32_t i = 0; i < 10; ++i) s.push(ev(i));
  std::vector<Event> out;
  uint64_t seq = 99;
  ASSERT_TRUE(s.take(out, seq, 4, 0ms, 10ms));
  EXPECT_EQ(seq, 0u);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].proc.pid, 3u);
  ASSERT_TRUE(s.take(out, seq, 100, 0ms, 10ms));
  EXPECT_EQ(seq, 4u);
  EXPECT_EQ(out.size(), 6u);
  EXPECT_EQ(s.counters().sent, 10u);
}

// A drain is pushed whole; batches cut across drains keep push order and contiguous numbers.
TEST(EventStream, PushedDrainsLeaveInOrderWhateverTheBatchSize) {
  EventStream s({.queue_capacity = 100, .rate_per_second = 0, .burst = 0});
  uint32_t next = 0;
  for (size_t drain : {5u, 3u, 7u}) {
    std::vector<Event> events;
    for (size_t i = 0; i < drain; ++i) events.push_back(ev(next++));
    s.push_all(std::move(events));
  }
  std::vector<Event> out;
  uint64_t seq = 0;
  uint32_t expect = 0;
  for (size_t batch : {5u, 2u, 6u, 100u}) {  // the whole first drain, then cuts inside and across drains
    ASSERT_TRUE(s.take(out, seq, batch, 0ms, 10ms));
    EXPECT_EQ(seq, expect);
    for (const auto& e : out) EXPECT_EQ(e.proc.pid, expect++);
  }
  EXPECT_EQ(expect, 15u);
  EXPECT_EQ(s.counters().sent, 15u);
}

// What a full queue or an empty bucket refuses of a drain is its end, counted.
TEST(EventStream, APushedDrainIsCutToWhatTheQueueAndTheBucketAdmit) {
  EventStream full({.queue_capacity = 4, .rate_per_second = 0, .burst = 0});
  std::vector<Event> events(10, ev(1));
  full.push_all(std::move(events));
  EXPECT_EQ(full.counters().queued, 4u);
  EXPECT_EQ(full.counters().queue_drops, 6u);

  EventStream limited({.queue_capacity = 100, .rate_per_second = 1, .burst = 3});
  limited.push_all(std::vector<Event>(10, ev(2)));
  EXPECT_EQ(limited.counters().queued, 3u);
  EXPECT_EQ(limited.counters().rate_limited, 7u);
  std::vector<Event> out;
  uint64_t seq = 0;
  ASSERT_TRUE(limited.take(out, seq, 100, 0ms, 10ms));
  EXPECT_EQ(out.size(), 3u);
}

TEST(EventStream, FullQueueDropsAndCountsInsteadOfBlocking) {
  EventStream s({.queue_capacity = 3, .rate_per_second = 0, .burst = 0});
  for (uint32_t i = 0; i < 10; ++i) s.push(ev(i));
  auto c = s.counters();
  EXPECT_EQ(c.queued, 3u);
  EXPECT_EQ(c.queue_drops, 7u);
}

TEST(EventStream, RateLimitDropsOverTheBucket) {
  EventStream s({.queue_capacity = 1000, .rate_per_second = 1, .burst = 5});
  for (uint32_t i = 0; i < 50; ++i) s.push(ev(i));
  auto c = s.counters();
  EXPECT_EQ(c.queued, 5u);
  EXPECT_EQ(c.rate_limited, 45u);
}

TEST(EventStream, EmptyWaitReturnsNoEventsForAHeartbeat) {
  EventStream s;
  std::vector<Event> out;
  uint64_t seq = 0;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.take(out, seq, 10, 5ms, 30ms));
  EXPECT_TRUE(out.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
  s.close();
  EXPECT_FALSE(s.take(out, seq, 10, 5ms, 1000ms));
}

// Detection latency: an event into an idle stream is sent at once, not after max_delay. With a
// max_delay of an hour, batching would hold it until the test's 20 s bound fails it.
TEST(EventStream, FirstEventAfterIdleLeavesWithoutWaitingForABatch) {
  EventStream s({.queue_capacity = 100, .rate_per_second = 0, .burst = 0});
  std::promise<size_t> taken;
  std::thread taker([&] {
    std::vector<Event> out;
    uint64_t seq = 0;
    s.take(out, seq, 100, std::chrono::hours(1), std::chrono::hours(1));
    taken.set_value(out.size());
  });
  s.push(ev(1));
  auto result = taken.get_future();
  bool sent = result.wait_for(20s) == std::future_status::ready;
  if (!sent) s.close();  // let the taker go, so that the test fails instead of hanging
  taker.join();
  ASSERT_TRUE(sent) << "a lone event waited for a batch to fill";
  EXPECT_EQ(result.get(), 1u);
}

// A busy stream (the previous batch left events queued) still batches up to max_delay.
TEST(EventStream, QueuedEventsWaitForAFullerBatch) {
  EventStream s({.queue_capacity = 100, .rate_per_second = 0, .burst = 0});
  s.push(ev(1));
  s.push(ev(2));
  std::vector<Event> out;
  uint64_t seq = 0;
  ASSERT_TRUE(s.take(out, seq, 1, 0ms, 10ms));  // leaves event 2 behind: busy
  std::thread pusher([&] {
    for (uint32_t i = 3; i <= 5; ++i) s.push(ev(i));
  });
  ASSERT_TRUE(s.take(out, seq, 4, std::chrono::hours(1), std::chrono::hours(1)));  // returns when 4 are queued
  pusher.join();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].proc.pid, 2u);
  EXPECT_EQ(out[3].proc.pid, 5u);
}

}  // namespace
}  // namespace kata_sentry::guest_probes
