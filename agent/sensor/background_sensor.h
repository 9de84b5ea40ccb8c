// The guest sensor, started off the agent's critical path.
//
// Loading the sensor's BPF objects takes seconds under TCG (verifier + BTF), and nothing in
// Check, GetGuestDetails, CreateSandbox or CreateContainer needs it. So the agent starts it on
// a thread and serves at once; what does need it waits for it (bounded):
//
//   * StreamEvents, SetEnforcement, KillGuestProcess: wait(), then UNAVAILABLE with the reason
//     if the sensor failed to start;
//   * StartContainer: waits too, in every mode. A container's init must not run before the
//     probes are attached: in enforce mode the deny set would not be in the kernel yet, and in
//     monitor mode the first syscalls of the workload (the moment an attack usually starts)
//     would go unseen. The wait costs nothing once the sensor is up, and before that it only
//     moves the load time from agent-ready to the first container start, overlapped with
//     everything the host does in between (CreateSandbox, CreateContainer, its own probes);
//   * container registrations made before the sensor is up (CreateContainer, the cgroup
//     callback) are remembered and replayed, in order, before the sensor is published, so
//     attribution and container deny rules cover those containers too.
//
// A template over the sensor type so that the ordering can be unit-tested with a fake sensor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/result.h"

namespace kata_sentry::guest_probes {
class GuestSensor;
}

namespace kata_sentry::agent {

template <typename Sensor>
class BackgroundSensor {
 public:
  using Starter = std::function<Result<std::unique_ptr<Sensor>>()>;

  // Runs `start` on its own thread. The starter may log; it must not call back into this object.
  explicit BackgroundSensor(Starter start) {
    thread_ = std::thread([this, start = std::move(start)] { finish(start()); });
  }
  ~BackgroundSensor() {
    if (thread_.joinable()) thread_.join();
  }
  BackgroundSensor(const BackgroundSensor&) = delete;  // the thread holds `this`
  BackgroundSensor& operator=(const BackgroundSensor&) = delete;

  // The sensor once it is up; nullptr if it failed (why() says why), if `timeout` passed first,
  // or if `cancelled` turned true (checked every 100 ms).
  Sensor* wait(std::chrono::milliseconds timeout, const std::function<bool()>& cancelled = {}) {
    std::unique_lock lk(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done_) {
      if (cancelled && cancelled()) return nullptr;
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return nullptr;
      cv_.wait_for(lk, std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
    }
    return sensor_.get();
  }

  bool ready() const {
    std::lock_guard lk(mu_);
    return done_;
  }

  // Why wait() returned nullptr: the start error, or "still starting".
  std::string why() const {
    std::lock_guard lk(mu_);
    if (!done_) return "guest sensor still starting";
    return sensor_ ? std::string() : error_;
  }

  // Forwards to the sensor, or remembers the call until the sensor is up.
  void container_changed(const std::string& id, const std::filesystem::path& dir, bool present) {
    Sensor* s = nullptr;
    {
      std::lock_guard lk(mu_);
      if (!done_) {
        pending_.emplace_back(id, dir, present);
        return;
      }
      s = sensor_.get();
    }
    if (s) s->container_changed(id, dir, present);
  }

 private:
  void finish(Result<std::unique_ptr<Sensor>> started) {
    std::lock_guard lk(mu_);
    if (started) {
      sensor_ = std::move(*started);
      // Under the lock: a registration racing with the replay waits for it, so order holds.
      for (auto& [id, dir, present] : pending_) sensor_->container_changed(id, dir, present);
    } else {
      error_ = "guest sensor not running: " + started.error().describe();
    }
    pending_.clear();
    done_ = true;
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::unique_ptr<Sensor> sensor_;
  std::string error_;
  std::vector<std::tuple<std::string, std::filesystem::path, bool>> pending_;
  std::thread thread_;  // last: started after every other member exists
};

using SensorHandle = BackgroundSensor<guest_probes::GuestSensor>;

}  // namespace kata_sentry::agent
