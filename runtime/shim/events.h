// Task events for containerd. The shim publishes them by running containerd's publish binary
// (`containerd --address A publish --topic T --namespace N`, event on stdin as a protobuf Any
// with type_url "containerd.events.<Name>"), which is what containerd 1.6 passes as
// -publish-binary. Publishing never fails an RPC: a lost event is logged and counted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kata_sentry::shim {

struct EventEnvelope {
  std::string topic;     // "/tasks/exit"
  std::string type_url;  // "containerd.events.TaskExit"
  std::string value;     // the serialized event message
};

class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Queues the event; returns at once. Events go out in the order they were queued.
  virtual void publish(EventEnvelope event) = 0;
};

// Runs the publish binary once per event on a background thread, in order.
class ExecPublisher final : public EventPublisher {
 public:
  ExecPublisher(std::string publish_binary, std::string containerd_address, std::string ns);
  ~ExecPublisher() override;  // sends what is queued, then stops
  void publish(EventEnvelope event) override;
  uint64_t failures() const { return failures_.load(); }

 private:
  void run();
  bool send(const EventEnvelope& e);

  std::string binary_, address_, namespace_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EventEnvelope> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> failures_{0};
  std::thread worker_;
};

// Keeps events in memory: for tests and for running without containerd.
class RecordingPublisher final : public EventPublisher {
 public:
  void publish(EventEnvelope event) override;
  std::vector<EventEnvelope> events() const;
  std::vector<std::string> topics() const;

 private:
  mutable std::mutex mu_;
  std::vector<EventEnvelope> events_;
};

}  // namespace kata_sentry::shim
