#include "monitor/action_executor.h"

#include <linux/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "core/event_decode.h"
#include "core/logging.h"
#include "host-probes/host_deny.h"
#include "kata_sentry/event_abi.h"
#include "monitor/host_deny_rules.h"
#include "policy-engine/guest_deny_rules.h"

namespace kata_sentry::monitor {
namespace {

// Kills a host process through a pidfd, so that a pid reused between the event and the kill
// cannot make us signal an unrelated process... as far as the open itself allows: the pidfd
// pins the process that holds the pid at open time.
Status kill_host_pid(uint32_t pid, int sig) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) return fail_errno("pidfd_open " + std::to_string(pid));
  long r = ::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  int saved = errno;
  ::close(fd);
  if (r != 0) {
    errno = saved;
    return fail_errno("pidfd_send_signal " + std::to_string(pid));
  }
  return {};
}

std::string describe_event(const Event& e) {
  std::string s(event_type_name(e.type));
  if (!e.path.empty()) s += " " + e.path;
  if (!e.addr.ip.empty())
    s += " " + (e.addr.family == AF_INET6 ? "[" + e.addr.ip + "]" : e.addr.ip) + ":" + std::to_string(e.addr.port);
  s += " (" + std::string(view_name(e.view)) + " pid " + std::to_string(e.proc.pid);
  if (!e.proc.name.empty()) s += " " + e.proc.name;
  if (!e.container_id.empty()) s += ", container " + e.container_id;
  if (e.has_res) s += ", res " + std::to_string(e.res);
  return s + ")";
}

const Event* last_event(const policy::Alert& a) { return a.events.empty() ? nullptr : &a.events.back(); }

bool refused_eperm(const Event* e) { return e && e->has_res && e->res == -EPERM; }

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

ActionExecutor::ActionExecutor(policy::Mode mode, const SandboxHooks& hooks, Reporter& reporter, TamperAlarm& alarm,
                               std::vector<std::string> host_cgroups)
    : mode_(mode), hooks_(hooks), reporter_(reporter), alarm_(alarm), host_cgroups_(std::move(host_cgroups)) {}

ActionExecutor::~ActionExecutor() { stop(); }

void ActionExecutor::stop() {
  stopping_ = true;
  if (refusal_thread_.joinable()) refusal_thread_.join();
  if (host_deny_) {
    if (auto s = host_deny_->stats()) {
      std::lock_guard lock(mu_);
      stats_.host_refusal_drops = s->ringbuf_drops;
    }
  }
}

ExecutorStats ActionExecutor::stats() const {
  ExecutorStats s;
  {
    std::lock_guard lock(mu_);
    s = stats_;
  }
  if (host_deny_ && !stopping_.load()) {
    if (auto ds = host_deny_->stats()) s.host_refusal_drops = ds->ringbuf_drops;
  }
  return s;
}

void ActionExecutor::count(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? stats_.actions_ok : stats_.actions_failed);
}

Status ActionExecutor::install(const std::vector<policy::EnforcementSpec>& specs) {
  if (mode_ != policy::Mode::enforce) return {};  // monitor mode changes nothing, in the guest or on the host
  if (auto st = install_guest(specs); !st) return st;
  install_host(specs);
  if (host_deny_) refusal_thread_ = std::thread([this] { refusal_loop(); });
  return {};
}

Status ActionExecutor::install_guest(const std::vector<policy::EnforcementSpec>& specs) {
  std::vector<std::string> not_for_guest;
  auto rules = policy::guest_deny_rules(specs, reporter_.sandbox_id(), &not_for_guest);
  AuditRecord rec = reporter_.record(View::guest, policy::Action::deny);
  if (!hooks_.set_enforcement) {
    rec.ok = false;
    rec.detail = "guest LSM deny set not pushed: the sandbox has no agent to push it to";
    count(false);
    reporter_.audit(std::move(rec));
    return {};
  }
  auto res = hooks_.set_enforcement(rules);
  if (!res) {
    rec.ok = false;
    rec.detail = "pushing " + std::to_string(rules.size()) + " deny rule(s) to the guest LSM failed: " + res.error().describe();
    count(false);
    reporter_.audit(std::move(rec));
    return fail(res.error().code, "enforce mode: the guest's deny set could not be installed (" + res.error().describe() + ")");
  }
  res->insert(res->end(), not_for_guest.begin(), not_for_guest.end());
  for (const auto& r : rules) {
    bool refused = std::any_of(res->begin(), res->end(), [&](const std::string& x) { return x.rfind(r.name + ":", 0) == 0; });
    if (!refused) deny_rules_in_guest_.push_back(r.name);
  }
  {
    std::lock_guard lock(mu_);
    stats_.deny_installed = deny_rules_in_guest_;
    stats_.deny_refused = *res;
  }
  // A rule that covers several hooks is pushed as one guest rule per hook: name it once.
  std::vector<std::string> names;
  for (const auto& n : deny_rules_in_guest_)
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  std::string detail = "installed " + std::to_string(names.size()) + " deny rule(s) in the guest LSM";
  for (size_t i = 0; i < names.size(); ++i) detail += (i ? ", " : ": ") + names[i];
  detail += " (" + std::to_string(deny_rules_in_guest_.size()) + " hook entries)";
  if (!res->empty()) {
    detail += "; refused by the guest:";
    for (const auto& r : *res) detail += " [" + r + "]";
  }
  rec.ok = res->empty();
  rec.detail = std::move(detail);
  count(rec.ok);
  reporter_.audit(std::move(rec));
  return {};
}

void ActionExecutor::install_host(const std::vector<policy::EnforcementSpec>& specs) {
  auto rules = host_deny_rules(specs, reporter_.sandbox_id());
  if (rules.empty()) return;
  std::string names;
  for (const auto& r : rules) names += (names.empty() ? "" : ", ") + r.name;
  AuditRecord rec = reporter_.record(View::host, policy::Action::deny);
  auto unavailable = [&](const std::string& why) {
    host_deny_unavailable_ = why;
    rec.ok = false;
    rec.detail = "host deny unavailable: " + why + "; not enforced on the host: " + names;
    count(false);
    logger("monitor")->warn("sandbox {}: {}", reporter_.sandbox_id(), rec.detail);
    reporter_.audit(std::move(rec));
  };
  if (host_cgroups_.empty()) return unavailable("the sandbox has no host cgroup v2 directory to attach cgroup programs to");
  auto compiled = probes::compile_host_deny_set(rules);
  auto opened = probes::HostDeny::open(host_cgroups_);
  if (!opened) return unavailable(opened.error().describe());
  if (auto st = (*opened)->set(compiled); !st) return unavailable(st.error().describe());
  host_deny_ = std::move(*opened);
  for (const auto& r : rules) host_deny_rule_names_.push_back(r.name);
  deny_rules_on_host_ = compiled.installed;
  {
    std::lock_guard lock(mu_);
    stats_.host_deny_attached = true;
    stats_.host_deny_installed = compiled.installed;
    stats_.host_deny_refused = compiled.refused;
  }
  std::string detail = "installed " + std::to_string(compiled.installed.size()) + " deny rule(s) in host cgroup programs (" +
                       std::to_string(compiled.connect.size()) + " connect, " + std::to_string(compiled.device.size()) +
                       " device entries; " + host_deny_->attached() + ")";
  for (size_t i = 0; i < compiled.installed.size(); ++i) detail += (i ? ", " : ": ") + compiled.installed[i];
  if (!compiled.refused.empty()) {
    detail += "; cannot be enforced by host cgroup programs:";
    for (const auto& r : compiled.refused) detail += " [" + r + "]";
  }
  rec.ok = compiled.refused.empty();
  rec.detail = std::move(detail);
  count(rec.ok);
  reporter_.audit(std::move(rec));
}

bool ActionExecutor::installed(const policy::Alert& a) const {
  const Event* ev = last_event(a);
  if (!ev) return false;
  return contains(ev->view == View::host ? deny_rules_on_host_ : deny_rules_in_guest_, a.rule);
}

void ActionExecutor::act_and_report(AlertGroup& g) noexcept {
  if (g.alerts.empty()) return;
  try {
    // What the records of the operation say, and whether a deny rule the host installed on
    // the operation's side stands behind it. The host's own kernel is believed; a guest's
    // "refused" is believed only when the host's deny set covers the operation.
    bool claimed = g.denied, eperm = false, covered = false, host_view = false;
    for (const auto& a : g.alerts) {
      const Event* ev = last_event(a);
      if (!ev) continue;
      claimed |= (ev->flags & KS_F_DENIED) != 0;
      eperm |= refused_eperm(ev);
      host_view |= ev->view == View::host;
      covered |= a.action == policy::Action::deny && installed(a);
    }
    const bool enforcing = mode_ == policy::Mode::enforce;
    const bool corroborated = enforcing && (host_view ? claimed || (covered && eperm) : covered && (claimed || eperm));
    if (!host_view && claimed && !corroborated) {
      std::lock_guard lock(mu_);
      ++stats_.guest_claims_uncorroborated;
    }
    for (auto& a : g.alerts) act(a, corroborated, claimed, g.hook);
    if (g.alerts.size() == 1) {
      reporter_.alert(g.alerts.front());
      return;
    }
    policy::Alert merged = OperationJoiner::merge(std::move(g.alerts));
    reporter_.alert(merged);
  } catch (...) {
    count(false);  // the group could not be reported (allocation): counted as a failed action
  }
}

void ActionExecutor::act(policy::Alert& a, bool corroborated, bool claimed, EventType hook) noexcept {
  const Event* ev = last_event(a);
  const bool guest = ev && ev->view == View::guest;
  a.guest_reports_denied = guest && claimed && !corroborated;
  if (a.action == policy::Action::alert || mode_ != policy::Mode::enforce) {
    // An alert-only rule can match an operation that a deny rule refused in the kernel: the
    // alert then says truthfully that the operation did not happen.
    a.enforced = a.action == policy::Action::alert && corroborated;
    return;
  }
  AuditRecord rec = reporter_.record(guest ? View::guest : View::host, a.action);
  rec.rule = a.rule;
  try {
    switch (a.action) {
      case policy::Action::alert:
        return;
      case policy::Action::deny: {
        if (!ev) return;
        const bool mine = installed(a);
        const bool denied = guest ? mine && (claimed || refused_eperm(ev)) : claimed || (mine && refused_eperm(ev));
        a.enforced = denied;
        a.guest_reports_denied = guest && claimed && !denied;
        if (denied) {
          // Which hook refused it: the operation's LSM record, or the record itself.
          EventType h = hook != EventType::none ? hook : is_lsm_type(ev->type) ? ev->type : EventType::none;
          std::string at = h != EventType::none ? " at " + std::string(event_type_name(h)) : "";
          rec.detail = std::string(guest ? "denied in-kernel by guest LSM" + at + " (EPERM): "
                                         : "denied in-kernel by host cgroup program (EPERM): ") +
                       describe_event(*ev);
          break;
        }
        rec.ok = false;
        std::string why;
        if (!guest) {
          why = mine                              ? "the host cgroup programs let it through"
                : !host_deny_unavailable_.empty() ? "host deny unavailable: " + host_deny_unavailable_
                : host_deny_                      ? "the rule cannot be enforced by host cgroup programs"
                                                  : "the rule is not installed on the host";
        } else {
          why = mine ? "the guest LSM let it through" : "the rule is not installed in the guest LSM";
          if (claimed) why += "; the guest reports the operation denied, which the host cannot corroborate";
        }
        rec.detail = "not blocked: " + why + ": " + describe_event(*ev);
        break;
      }
      case policy::Action::kill: {
        if (!ev) return;
        Status st;
        std::string target = std::string(guest ? "guest" : "host") + " pid " + std::to_string(ev->proc.pid) + " (" + ev->proc.name + ")";
        if (guest) {
          st = hooks_.kill_guest_process ? hooks_.kill_guest_process(ev->proc.pid, SIGKILL) : fail(ErrorCode::unavailable, "no agent");
        } else {
          st = kill_host_pid(ev->proc.pid, SIGKILL);
        }
        a.enforced = static_cast<bool>(st);
        rec.ok = static_cast<bool>(st);
        rec.detail = st ? "killed " + target + " with SIGKILL" + (guest ? " via the agent" : " via pidfd")
                        : "failed to kill " + target + ": " + st.error().describe();
        break;
      }
      case policy::Action::kill_sandbox: {
        if (sandbox_killed_) {
          a.enforced = true;  // already done for an earlier alert
          return;
        }
        Status st = hooks_.stop_vm ? hooks_.stop_vm() : fail(ErrorCode::unavailable, "no VM control");
        if (st) {
          sandbox_killed_ = true;
          alarm_.silence();  // a stopped guest sends nothing: that is not tampering
        }
        a.enforced = static_cast<bool>(st);
        rec.view = View::host;
        rec.detail = st ? "stopped VM over QMP (quit)" : "failed to stop VM over QMP: " + st.error().describe();
        rec.ok = static_cast<bool>(st);
        break;
      }
    }
  } catch (...) {
    rec.ok = false;
    rec.detail = "action failed: exception";
  }
  count(rec.ok);
  reporter_.audit(std::move(rec));
}

void ActionExecutor::refusal_loop() noexcept {
  BootClock clock;
  while (!stopping_.load()) {
    std::vector<Event> refusals;
    auto polled = host_deny_->poll(100, [&](std::span<const uint8_t> record) {
      auto ev = decode_event(record, View::host, clock);
      if (ev) {
        refusals.push_back(std::move(*ev));
      } else {
        std::lock_guard lock(mu_);
        ++stats_.host_refusal_unreadable;  // the refusal happened; only its record is unreadable
      }
    });
    if (!polled) {
      logger("monitor")->error("sandbox {}: host deny poll: {}", reporter_.sandbox_id(), polled.error().describe());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (const auto& ev : refusals) audit_refusal(ev);
  }
}

// One audit record per refused operation, naming the rule, the hook and what was refused.
void ActionExecutor::audit_refusal(const Event& e) noexcept {
  try {
    {
      std::lock_guard lock(mu_);
      ++stats_.host_refusals;
    }
    uint64_t id = e.arg.size() > 3 ? e.arg[3] : ~0ull;
    AuditRecord rec = reporter_.record(View::host, policy::Action::deny);
    rec.rule = id < host_deny_rule_names_.size() ? host_deny_rule_names_[id] : "rule #" + std::to_string(id);
    std::string who = " (host pid " + std::to_string(e.proc.pid) + " " + e.proc.name + ", uid " + std::to_string(e.proc.uid) + ")";
    if (e.type == EventType::cgroup_connect) {
      static constexpr const char* kHooks[] = {"?", "connect4", "connect6", "sendmsg4", "sendmsg6"};
      uint64_t hook = e.arg.empty() ? 0 : e.arg[0];
      std::string dest = e.addr.family == AF_INET6 ? "[" + e.addr.ip + "]" : e.addr.ip;
      rec.detail = std::string("denied in-kernel by host cgroup/") + kHooks[hook < 5 ? hook : 0] + " (EPERM): " +
                   (hook >= 3 ? "send to " : "connect to ") + dest + ":" + std::to_string(e.addr.port) + who;
    } else {
      uint64_t access = e.arg.size() > 0 ? e.arg[0] : 0;
      std::string what;
      if ((access >> 16) & 1) what += "mknod";
      if ((access >> 16) & 2) what += std::string(what.empty() ? "" : "+") + "read";
      if ((access >> 16) & 4) what += std::string(what.empty() ? "" : "+") + "write";
      rec.detail = "denied in-kernel by host cgroup/dev (EPERM): " + what + " of " + ((access & 0xffff) == 1 ? "block" : "char") +
                   " device " + std::to_string(e.arg.size() > 1 ? e.arg[1] : 0) + ":" + std::to_string(e.arg.size() > 2 ? e.arg[2] : 0) +
                   who;
    }
    count(true);
    reporter_.audit(std::move(rec));
  } catch (...) {
    std::lock_guard lock(mu_);
    ++stats_.host_refusal_unreadable;  // could not describe it (allocation): counted
  }
}

}  // namespace kata_sentry::monitor
