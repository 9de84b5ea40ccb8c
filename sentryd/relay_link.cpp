#include "sentryd/relay_link.h"

#include "deny_rule_convert.h"
#include "wanted_types_convert.h"
#include "guest_wire.h"

namespace kata_sentry::daemon {

using namespace std::chrono_literals;

RelayLink::RelayLink(std::string sandbox_id, Send send, std::chrono::milliseconds command_timeout)
    : sandbox_id_(std::move(sandbox_id)), send_(std::move(send)), command_timeout_(command_timeout), queue_(kQueueBatches, kQueueBytes) {}

void RelayLink::push_batch(std::string wire) {
  size_t bytes = wire.size();
  queue_.push_wait(Item{std::move(wire), std::nullopt}, bytes);
}

void RelayLink::push_stream_ended(std::string why) {
  size_t bytes = why.size();
  queue_.push_wait(Item{{}, std::move(why)}, bytes);
}

void RelayLink::complete(const v1::RelayResult& result) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(result.id());
  if (it == pending_.end()) return;  // timed out already, or never asked: ignored
  it->second = result;
  cv_.notify_all();
}

void RelayLink::close() {
  queue_.close();
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool RelayLink::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

Status RelayLink::stream(const std::function<bool(std::string&&)>& on_batch) {
  for (;;) {
    auto item = queue_.pop_wait(1s);
    if (!item) {
      if (queue_.closed()) return {};  // closed and drained
      continue;
    }
    // The shim re-opened the agent's stream: this one ends here, so the monitor notes it
    // (and starts a new numbering) before it reads the next.
    if (item->ended) return fail(ErrorCode::unavailable, "the shim reports: " + *item->ended);
    if (!on_batch(std::move(item->wire))) return {};
  }
}

Result<v1::RelayResult> RelayLink::call(v1::RelayCommand command, const std::string& what,
                                        std::optional<std::chrono::milliseconds> timeout) {
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
  bool answered = cv_.wait_for(lock, timeout.value_or(command_timeout_), [&] { return closed_ || pending_[id].has_value(); });
  auto result = std::move(pending_[id]);
  pending_.erase(id);
  if (!result) {
    return fail(answered ? ErrorCode::unavailable : ErrorCode::timeout,
                what + " for sandbox " + sandbox_id_ + (answered ? ": the shim's relay closed" : ": the shim did not answer in time"));
  }
  if (!result->error().empty()) return fail(ErrorCode::internal, what + " for sandbox " + sandbox_id_ + ": " + result->error());
  return std::move(*result);
}

Result<std::string> RelayLink::list_guest_processes() {
  v1::RelayCommand c;
  c.mutable_list_guest_processes();
  auto r = call(std::move(c), "guest ListGuestProcesses");
  if (!r) return std::unexpected(r.error());
  return std::move(*r->mutable_guest_processes());
}

monitor::SandboxHooks RelayLink::hooks() {
  monitor::SandboxHooks h;
  h.stream_events = [this](const std::function<bool(std::string&&)>& fn) { return stream(fn); };
  h.set_enforcement = [this](const std::vector<DenyRule>& rules) -> Result<std::vector<std::string>> {
    v1::RelayCommand c;
    deny_rules_to_proto(rules, *c.mutable_set_enforcement());
    auto r = call(std::move(c), "guest SetEnforcement", std::max<std::chrono::milliseconds>(command_timeout_, kSensorCommandTimeout));
    if (!r) return std::unexpected(r.error());
    return refusals_from_proto(r->refused());
  };
  h.set_wanted_types = [this](const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields) -> Status {
    v1::RelayCommand c;
    wanted_types_to_proto(types, *c.mutable_set_wanted_types());
    field_filters_to_proto(fields, *c.mutable_set_wanted_types());
    auto r = call(std::move(c), "guest SetWantedTypes");
    if (!r) return std::unexpected(r.error());
    return {};
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
