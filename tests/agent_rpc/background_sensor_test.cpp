// BackgroundSensor: the agent serves while the guest sensor loads; registrations made in the
// meantime reach the sensor, in order, before anyone can use it.
#include "agent/sensor/background_sensor.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kata_sentry::agent {
namespace {

using namespace std::chrono_literals;

struct FakeSensor {
  std::vector<std::string> calls;  // "+id" / "-id", in the order they reached the sensor
  void container_changed(const std::string& id, const std::filesystem::path&, bool present) {
    calls.push_back((present ? "+" : "-") + id);
  }
};

TEST(BackgroundSensor, RegistrationsBeforeReadyAreReplayedInOrderBeforeWaitReturns) {
  std::promise<void> go;
  auto gate = go.get_future().share();
  BackgroundSensor<FakeSensor> bg([gate]() -> Result<std::unique_ptr<FakeSensor>> {
    gate.wait();  // the BPF load
    return std::make_unique<FakeSensor>();
  });
  EXPECT_FALSE(bg.ready());
  EXPECT_EQ(bg.wait(50ms), nullptr) << "not up yet";
  EXPECT_EQ(bg.why(), "guest sensor still starting");
  bg.container_changed("c1", "/cg/c1", true);
  bg.container_changed("c2", "/cg/c2", true);
  bg.container_changed("c1", {}, false);
  go.set_value();
  FakeSensor* s = bg.wait(5s);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->calls, (std::vector<std::string>{"+c1", "+c2", "-c1"}));
  bg.container_changed("c3", "/cg/c3", true);  // forwarded directly now
  EXPECT_EQ(s->calls.back(), "+c3");
  EXPECT_TRUE(bg.why().empty());
}

TEST(BackgroundSensor, FailedStartSaysWhyAndWaitersDoNotHang) {
  BackgroundSensor<FakeSensor> bg([]() -> Result<std::unique_ptr<FakeSensor>> {
    return fail(ErrorCode::unavailable, "no BPF LSM");
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(bg.wait(5s), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(bg.ready());
  EXPECT_NE(bg.why().find("no BPF LSM"), std::string::npos) << bg.why();
  bg.container_changed("c1", "/cg/c1", true);  // dropped quietly: there is no sensor
}

TEST(BackgroundSensor, WaitIsCancellable) {
  std::promise<void> go;
  auto gate = go.get_future().share();
  BackgroundSensor<FakeSensor> bg([gate]() -> Result<std::unique_ptr<FakeSensor>> {
    gate.wait();
    return std::make_unique<FakeSensor>();
  });
  std::atomic<bool> cancel{false};
  auto waiter = std::async(std::launch::async, [&] { return bg.wait(30s, [&] { return cancel.load(); }); });
  std::this_thread::sleep_for(50ms);
  cancel = true;
  EXPECT_EQ(waiter.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), nullptr);
  go.set_value();
}

}  // namespace
}  // namespace kata_sentry::agent
