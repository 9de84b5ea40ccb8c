#include "runtime/shim/events.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <google/protobuf/any.pb.h>

#include "core/logging.h"

extern char** environ;

namespace kata_sentry::shim {

ExecPublisher::ExecPublisher(std::string publish_binary, std::string containerd_address, std::string ns)
    : binary_(std::move(publish_binary)), address_(std::move(containerd_address)), namespace_(std::move(ns)) {
  worker_ = std::thread([this] { run(); });
}

ExecPublisher::~ExecPublisher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void ExecPublisher::publish(EventEnvelope event) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void ExecPublisher::run() {
  for (;;) {
    EventEnvelope e;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      e = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!send(e)) failures_++;
  }
}

bool ExecPublisher::send(const EventEnvelope& e) {
  auto log = logger("shim");
  google::protobuf::Any any;
  any.set_type_url(e.type_url);
  any.set_value(e.value);
  std::string bytes = any.SerializeAsString();

  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    log->error("publish {}: pipe: {}", e.topic, std::strerror(errno));
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  std::vector<std::string> args = {binary_, "--address", address_, "publish", "--topic", e.topic, "--namespace", namespace_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary_.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  if (rc != 0) {
    ::close(in[1]);
    log->error("publish {}: spawn {}: {}", e.topic, binary_, std::strerror(rc));
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(in[1], bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += size_t(w);
  }
  ::close(in[1]);
  // containerd answers in milliseconds; a publisher stuck on a dead containerd must not
  // hold up every later event forever.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      log->error("publish {}: waitpid: {}", e.topic, std::strerror(errno));
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      log->error("publish {}: {} did not finish within 10 s; killed", e.topic, binary_);
      return false;
    }
    ::usleep(5000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    log->error("publish {}: {} exited with status {}", e.topic, binary_, status);
    return false;
  }
  log->debug("published {} ({})", e.topic, e.type_url);
  return true;
}

void RecordingPublisher::publish(EventEnvelope event) {
  std::lock_guard lock(mu_);
  events_.push_back(std::move(event));
}

std::vector<EventEnvelope> RecordingPublisher::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<std::string> RecordingPublisher::topics() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> t;
  for (auto& e : events_) t.push_back(e.topic);
  return t;
}

}  // namespace kata_sentry::shim
