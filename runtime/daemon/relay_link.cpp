#include "runtime/daemon/relay_link.h"

#include "runtime/agent_client/guest_wire.h"

namespace kata_sentry::daemon {

RelayLink::RelayLink(std::string sandbox_id, Send send, std::chrono::milliseconds command_timeout)
    : sandbox_id_(std::move(sandbox_id)), send_(std::move(send)), command_timeout_(command_timeout) {}

void RelayLink::push(runtime::GuestEventBatch batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || queue_.size() < kQueueBatches; });
  if (closed_) return;
  queue_.push_back(std::move(batch));
  cv_.notify_all();
}

void RelayLink::complete(const v1::RelayResult& result) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(result.id());
  if (it == pending_.end()) return;  // timed out already, or never asked: ignored
  it->second = result;
  cv_.notify_all();
}

void RelayLink::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool RelayLink::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

Status RelayLink::stream(const std::function<bool(runtime::GuestEventBatch&&)>& on_batch) {
  for (;;) {
    runtime::GuestEventBatch batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return {};  // closed and drained
      batch = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();  // room for push()
    }
    if (!on_batch(std::move(batch))) return {};
  }
}

Result<v1::RelayResult> RelayLink::call(v1::RelayCommand command, const std::string& what) {
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (closed_) return fail(ErrorCode::unavailable, what + " for sandbox " + sandbox_id_ + ": the shim's relay is closed");
    id = next_id_++;
    pending_[id];
  }
  command.set_id(id);
  if (!send_(command)) {
    std::lock_guard lock(mu_);
    pending_.erase(id);
    return fail(ErrorCode::unavailable, what + " for sandbox " + sandbox_id_ + ": the shim's relay is broken");
  }
  std::unique_lock lock(mu_);
  bool answered = cv_.wait_for(lock, command_timeout_, [&] { return closed_ || pending_[id].has_value(); });
  auto result = std::move(pending_[id]);
  pending_.erase(id);
  if (!result) {
    return fail(answered ? ErrorCode::unavailable : ErrorCode::timeout,
                what + " for sandbox " + sandbox_id_ + (answered ? ": the shim's relay closed" : ": the shim did not answer in time"));
  }
  if (!result->error().empty()) return fail(ErrorCode::internal, what + " for sandbox " + sandbox_id_ + ": " + result->error());
  return std::move(*result);
}

monitor::SandboxHooks RelayLink::hooks() {
  monitor::SandboxHooks h;
  h.stream_events = [this](const std::function<bool(runtime::GuestEventBatch&&)>& fn) { return stream(fn); };
  h.set_enforcement = [this](const std::vector<DenyRule>& rules) -> Result<std::vector<std::string>> {
    v1::RelayCommand c;
    deny_rules_to_proto(rules, *c.mutable_set_enforcement());
    auto r = call(std::move(c), "guest SetEnforcement");
    if (!r) return std::unexpected(r.error());
    return runtime::refusals_from_proto(r->refused());
  };
  h.kill_guest_process = [this](uint32_t pid, int sig) -> Status {
    v1::RelayCommand c;
    c.mutable_kill_guest_process()->set_pid(pid);
    c.mutable_kill_guest_process()->set_signal(sig);
    auto r = call(std::move(c), "guest KillGuestProcess");
    if (!r) return std::unexpected(r.error());
    return {};
  };
  h.stop_vm = [this]() -> Status {
    v1::RelayCommand c;
    c.set_stop_vm(true);
    auto r = call(std::move(c), "stop VM");
    if (!r) return std::unexpected(r.error());
    return {};
  };
  h.vm_running = [this] { return !closed(); };
  h.abort_guest_stream = [this] { close(); };
  return h;
}

}  // namespace kata_sentry::daemon
