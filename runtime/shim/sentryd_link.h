// The shim's side of kata-sentryd for its pod: before the VM boots it checks the daemon
// answers (fail-closed refuses the pod otherwise); once the VM runs it registers the sandbox
// (VMM and helper pids, pod name, containers) and opens the relay: the agent's guest event
// stream goes to the daemon as is, and the daemon's actions (deny set, kill, stop VM) come
// back to be carried out on the agent and the VM. The sandbox id is the shim's: the daemon
// tags every guest event with it, so the guest cannot choose whose events it sends.
//
// A running pod outlives a daemon restart: when the relay breaks, a supervisor thread
// registers the sandbox again every 2 s until the daemon answers (or the pod ends), so an
// upgrade of kata-sentryd leaves no pod unwatched for longer than it is down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "runtime/shim/shim_config.h"

namespace kata_sentry::runtime {
class Sandbox;
}

namespace kata_sentry::shim {

struct PodIdentity {
  std::string sandbox_id;
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string first_container_id;
};

class SentrydLink {
 public:
  // `config` failed to load: every pod fails with that error (a broken config must not
  // silently turn into running pods unwatched).
  explicit SentrydLink(Result<ShimConfig> config);
  ~SentrydLink();  // detach()

  // Before booting: under fail-closed the daemon must answer within 3 s.
  Status check_reachable();
  // After booting: register, relay, and wait (up to 60 s) until the daemon's monitor for the
  // sandbox runs, so the pod's first container starts watched and under its deny set.
  // Fail-closed: any failure is returned. Fail-open: logged, the pod runs unwatched until the
  // supervisor reaches the daemon.
  Status attach(runtime::Sandbox& sandbox, const PodIdentity& pod);
  void container_added(const std::string& id);
  void container_removed(const std::string& id);
  // Before the sandbox is destroyed: UnregisterSandbox (the daemon takes in what the guest
  // already sent), then the relay ends. Idempotent.
  void detach();

 private:
  struct Relay;
  Status refuse_or_warn(const Error& error);
  // Register + RelayGuest + wait for the daemon's monitor; nothing is left open on failure.
  Result<std::unique_ptr<Relay>> open_relay();
  static void close_relay(Relay& relay, bool unregister);
  void relay_commands(Relay& relay);
  void relay_events(Relay& relay);
  void update_containers(const std::string& id, bool add);
  void supervise();

  Result<ShimConfig> config_;
  runtime::Sandbox* sandbox_ = nullptr;
  PodIdentity pod_;
  std::mutex mu_;  // everything below
  std::condition_variable cv_;
  std::vector<std::string> containers_;  // registered again after a reconnect
  std::unique_ptr<Relay> relay_;
  bool boot_reported_ = false;  // the boot time went with a successful registration
  bool stopping_ = false;
  std::thread supervisor_;
};

}  // namespace kata_sentry::shim
