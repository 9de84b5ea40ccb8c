#include "monitor/operation_joiner.h"

#include <linux/types.h>

#include <algorithm>
#include <optional>

#include "kata_sentry/event_abi.h"

namespace kata_sentry::monitor {
namespace {

using T = EventType;

// The operation class a syscall record and an LSM record share; 0 = not joinable.
uint8_t op_class(T t) {
  switch (t) {
    // open_by_handle_at opens through file_open too (its record names the syscall).
    case T::open: case T::openat: case T::openat2: case T::open_by_handle_at: case T::lsm_file_open: return 1;
    case T::execve: case T::execveat: case T::lsm_bprm_check: return 2;
    case T::connect: case T::lsm_socket_connect: return 3;
    case T::mknodat: case T::lsm_inode_mknod: return 4;
    case T::mount: case T::lsm_sb_mount: return 5;
    // process_vm_readv/writev pass the ptrace access check of their target.
    case T::ptrace: case T::process_vm_readv: case T::process_vm_writev: case T::lsm_ptrace_access: return 6;
    case T::bpf: case T::lsm_bpf: return 7;
    case T::finit_module: case T::kexec_file_load: case T::lsm_kernel_read_file: return 8;
    case T::kill: case T::lsm_task_kill: return 9;
    case T::unshare: case T::lsm_userns_create: return 10;
    case T::io_uring_setup: case T::userfaultfd: case T::lsm_anon_inode: return 11;
    case T::perf_event_open: case T::lsm_perf_event_open: return 12;
    case T::socket: case T::lsm_socket_create: return 13;
    case T::pivot_root: case T::lsm_sb_pivotroot: return 14;
    case T::init_module: case T::kexec_load: case T::lsm_kernel_load_data: return 15;
    default: return 0;
  }
}

bool is_lsm(T t) { return is_lsm_type(t); }

// A record whose operation the LSM never reports (no hook record to wait for): unix and IP
// sockets (the socket_create program returns at once), an unshare without a user namespace.
bool lsm_silent(const Event& e) {
  if (e.type == T::socket) {
    uint64_t family = e.arg_or(0);
    return family == 1 || family == 2 || family == 10;  // AF_UNIX, AF_INET, AF_INET6
  }
  if (e.type == T::unshare) return !(e.arg_or(0) & 0x10000000);  // CLONE_NEWUSER
  return false;
}

uint64_t key_of(const Event& e) { return (static_cast<uint64_t>(e.proc.tid) << 8) | op_class(e.type); }

bool acts(const policy::Alert& a) { return a.action != policy::Action::alert; }

bool from_lsm(const policy::Alert& a) { return !a.events.empty() && is_lsm(a.events.back().type); }

bool reported_already(const std::vector<std::string>& reported, const policy::Alert& a) {
  return std::find(reported.begin(), reported.end(), a.rule) != reported.end();
}

}  // namespace

bool OperationJoiner::joinable(const Event& e) {
  return e.view == View::guest && e.proc.tid != 0 && op_class(e.type) != 0 && !lsm_silent(e);
}

std::bitset<kEventTypeSlots> OperationJoiner::with_partners(std::bitset<kEventTypeSlots> types) {
  std::bitset<kEventTypeSlots> classes;  // op_class values are small
  for (EventType t : all_event_types())
    if (types.test(static_cast<size_t>(t))) classes.set(op_class(t));
  classes.reset(0);
  for (EventType t : all_event_types())
    if (classes.test(op_class(t))) types.set(static_cast<size_t>(t));
  return types;
}

FieldFilters OperationJoiner::with_partner_filters(const std::bitset<kEventTypeSlots>& types, const FieldFilters& fields) {
  FieldFilters out = fields;
  std::bitset<kEventTypeSlots> done;
  for (EventType t : all_event_types()) {
    const uint8_t cls = op_class(t);
    if (cls == 0 || done.test(cls) || !types.test(static_cast<size_t>(t))) continue;
    done.set(cls);
    // The union over the operation's types the rules name; one without a condition has none.
    std::optional<TypeFieldFilter> united;
    bool open = false;
    for (EventType u : all_event_types()) {
      if (op_class(u) != cls || !types.test(static_cast<size_t>(u))) continue;
      auto it = fields.find(u);
      if (it == fields.end()) {
        open = true;
        break;
      }
      if (!united) {
        united = it->second;
        continue;
      }
      united->path = unite(united->path, it->second.path, kFilterPathText);
      united->comm = unite(united->comm, it->second.comm, kFilterCommText);
    }
    for (EventType u : all_event_types()) {
      if (op_class(u) != cls) continue;
      if (open || !united || (!united->path && !united->comm)) {
        out.erase(u);
      } else {
        out[u] = *united;
      }
    }
  }
  return out;
}

void OperationJoiner::add(const Event& e, std::vector<policy::Alert>&& alerts, bool lsm_active, Clock::time_point now,
                          std::vector<AlertGroup>& out) {
  bool denied = (e.flags & KS_F_DENIED) != 0;
  if (!lsm_active || !joinable(e)) {
    if (!alerts.empty()) out.push_back(AlertGroup{std::move(alerts), denied, is_lsm(e.type) ? e.type : EventType::none});
    return;
  }
  const uint64_t key = key_of(e);
  const bool lsm = is_lsm(e.type);
  const auto window = static_cast<uint64_t>(options_.window.count());
  auto it = by_op_.find(key);
  if (it != by_op_.end()) {
    auto& halves = it->second;
    // A syscall record's LSM record is the earliest one at or after its enter time; an LSM
    // record's syscall record is the latest one at or before it.
    auto best = halves.end();
    for (auto h = halves.begin(); h != halves.end(); ++h) {
      if (h->lsm == lsm) continue;
      uint64_t sys_ts = lsm ? h->ts_ns : e.time_ns;
      uint64_t lsm_ts = lsm ? e.time_ns : h->ts_ns;
      if (lsm_ts < sys_ts || lsm_ts - sys_ts > window) continue;
      if (best == halves.end() || (lsm ? h->ts_ns > best->ts_ns : h->ts_ns < best->ts_ns)) best = h;
    }
    if (best != halves.end()) {
      Half other = std::move(*best);
      halves.erase(best);
      --waiting_;
      if (halves.empty()) by_op_.erase(it);
      // One alert per rule: the LSM record's version carries the in-kernel decision.
      std::vector<policy::Alert>& lsm_alerts = lsm ? alerts : other.alerts;
      std::vector<policy::Alert>& sys_alerts = lsm ? other.alerts : alerts;
      AlertGroup g;
      g.denied = denied || other.denied;
      g.hook = lsm ? e.type : other.type;
      g.alerts = std::move(lsm_alerts);
      for (auto& a : sys_alerts) {
        bool dup = std::any_of(g.alerts.begin(), g.alerts.end(), [&](const policy::Alert& x) { return x.rule == a.rule; });
        if (!dup && !reported_already(other.reported, a)) g.alerts.push_back(std::move(a));
      }
      if (!g.alerts.empty()) out.push_back(std::move(g));
      return;
    }
  }
  if (waiting_ >= options_.max_waiting && !expiry_.empty()) {
    // Full: release the oldest early rather than lose it or grow without bound.
    expire(expiry_.front().deadline, out);
  }
  Half h;
  h.id = next_id_++;
  h.ts_ns = e.time_ns;
  h.lsm = lsm;
  h.denied = denied;
  h.type = e.type;
  h.deadline = now + options_.hold;
  if (lsm && !alerts.empty() && (denied || std::none_of(alerts.begin(), alerts.end(), acts))) {
    // Nothing here needs the syscall record: report now, and remember what was reported so
    // that the syscall record adds only its other rules.
    for (const auto& a : alerts) h.reported.push_back(a.rule);
    out.push_back(AlertGroup{std::move(alerts), denied, e.type});
  } else {
    h.alerts = std::move(alerts);
  }
  expiry_.push_back(Expiry{h.deadline, key, h.id});
  by_op_[key].push_back(std::move(h));
  ++waiting_;
}

void OperationJoiner::expire(Clock::time_point now, std::vector<AlertGroup>& out) {
  while (!expiry_.empty() && expiry_.front().deadline <= now) {
    Expiry x = expiry_.front();
    expiry_.pop_front();
    auto it = by_op_.find(x.key);
    if (it == by_op_.end()) continue;  // joined already
    auto& halves = it->second;
    auto h = std::find_if(halves.begin(), halves.end(), [&](const Half& y) { return y.id == x.id; });
    if (h == halves.end()) continue;
    Half half = std::move(*h);
    halves.erase(h);
    --waiting_;
    if (halves.empty()) by_op_.erase(it);
    release(std::move(half), out);
  }
}

void OperationJoiner::release(Half&& half, std::vector<AlertGroup>& out) {
  if (half.alerts.empty()) return;
  out.push_back(AlertGroup{std::move(half.alerts), half.denied, half.lsm ? half.type : EventType::none});
}

policy::Alert OperationJoiner::merge(std::vector<policy::Alert>&& alerts) {
  auto first = std::min_element(alerts.begin(), alerts.end(), [](const policy::Alert& a, const policy::Alert& b) {
    if (a.priority != b.priority) return a.priority < b.priority;  // lower = more severe
    if (acts(a) != acts(b)) return acts(a);
    return from_lsm(a) && !from_lsm(b);
  });
  policy::Alert out = std::move(*first);
  for (auto it = alerts.begin(); it != alerts.end(); ++it) {
    if (it == first) continue;
    out.also_matched.push_back(it->rule);
    out.enforced |= it->enforced;
  }
  return out;
}

}  // namespace kata_sentry::monitor
