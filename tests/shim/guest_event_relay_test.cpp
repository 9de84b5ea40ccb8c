// The shim's event path with a fake agent and a fake daemon: batches pass through unchanged,
// and a broken agent stream is reported to the daemon and re-opened instead of ending the
// pod's guest view.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "runtime/shim/guest_event_relay.h"

namespace kata_sentry::shim {
namespace {

struct FakeDaemon {
  std::vector<std::string> seen;  // "batch:<bytes>" or "ended:<why>"
  bool accept = true;
  bool write(const v1::GuestEventsMessage& m) {
    seen.push_back(m.has_batch() ? "batch:" + m.batch() : "ended:" + m.stream_ended());
    return accept;
  }
};

GuestEventRelay relay_to(FakeDaemon& daemon, std::atomic<bool>& stopping, std::function<Status(const std::function<bool(std::string&&)>&)> agent) {
  GuestEventRelay r;
  r.open_stream = std::move(agent);
  r.write = [&daemon](const v1::GuestEventsMessage& m) { return daemon.write(m); };
  r.explain = [](const Error& e) { return e.describe(); };
  r.stopping = [&stopping] { return stopping.load(); };
  r.wait_stopping = [&stopping](std::chrono::milliseconds) { return stopping.load(); };
  r.retry = std::chrono::milliseconds(0);
  return r;
}

TEST(GuestEventRelay, ABrokenAgentStreamIsReportedAndReopened) {
  FakeDaemon daemon;
  std::atomic<bool> stopping{false};
  int opened = 0;
  auto agent = [&](const std::function<bool(std::string&&)>& on_batch) -> Status {
    ++opened;
    if (opened == 1) {
      on_batch(std::string("\xff\xfe first", 8));  // bytes pass through unchanged
      return fail(ErrorCode::protocol, "agent StreamEvents: connection lost");
    }
    if (opened == 2) return {};  // closed by the guest
    on_batch("third");
    stopping = true;             // the pod goes away
    on_batch("after stop");      // refused: the relay stops forwarding
    return {};
  };
  EXPECT_TRUE(relay_guest_events(relay_to(daemon, stopping, agent)));
  EXPECT_EQ(opened, 3);
  EXPECT_EQ(daemon.seen, (std::vector<std::string>{std::string("batch:\xff\xfe first", 14), "ended:agent StreamEvents: connection lost",
                                                  "ended:closed by the guest", "batch:third"}));
}

TEST(GuestEventRelay, ADaemonThatGoesAwayEndsTheRelayForTheSupervisor) {
  FakeDaemon daemon;
  daemon.accept = false;
  std::atomic<bool> stopping{false};
  int opened = 0;
  auto agent = [&](const std::function<bool(std::string&&)>& on_batch) -> Status {
    ++opened;
    while (on_batch("batch")) {
    }
    return {};
  };
  EXPECT_FALSE(relay_guest_events(relay_to(daemon, stopping, agent)));
  EXPECT_EQ(opened, 1) << "no point re-opening the agent's stream with no daemon to send to";
}

}  // namespace
}  // namespace kata_sentry::shim
