#include "guest-probes/guest_sensor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/event_decode.h"
#include "core/logging.h"
#include "core/read_file.h"
#include "core/unique_fd.h"
#include "guest_lsm.skel.h"
#include "syscall-probes/bpf_util.h"
#include "syscall-probes/field_filter_writer.h"
#include "syscall-probes/proc_table.h"
#include "syscall-probes/syscall_probes.h"

namespace kata_sentry::guest_probes {
namespace {

struct SkelDeleter {
  void operator()(guest_lsm* s) const noexcept { guest_lsm__destroy(s); }
};
using SkelPtr = std::unique_ptr<guest_lsm, SkelDeleter>;
struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const noexcept { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

// How long the reader, woken after idle, yields the CPU before it drains: the LSM record that
// woke it is written inside the syscall, whose own record follows at sys_exit; with one vCPU a
// reader that drained at once would send the first half before the syscall could finish.
constexpr int kSettleMicros = 100;

// How stale the kernel's counters (ring-buffer drops, denials) in an event batch may be.
constexpr auto kKernelStatsInterval = std::chrono::milliseconds(20);

// ListGuestProcesses calls waiting for the reader thread at once.
constexpr size_t kMaxPendingProcessCopies = 8;

size_t round_pow2_pages(size_t bytes) {
  size_t n = size_t(::sysconf(_SC_PAGESIZE));
  while (n < bytes) n <<= 1;
  return n;
}

// The cgroup v2 path of a process ("/kata-sentry/c1"), from /proc/<pid>/cgroup.
std::string proc_cgroup(uint32_t pid) {
  auto text = read_small_file("/proc/" + std::to_string(pid) + "/cgroup", 64 << 10);  // never throws
  if (!text) return {};
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// A cgroup directory as proc_cgroup names it: "/sys/fs/cgroup/kata-sentry/c1" -> "/kata-sentry/c1".
std::string cgroup_name(const std::filesystem::path& dir) {
  const std::string root = "/sys/fs/cgroup";
  std::string d = dir.string();
  return d.rfind(root, 0) == 0 ? d.substr(root.size()) : d;
}

// LSM hooks differ between kernels (userns_create is 6.1+, the io_uring ones need
// CONFIG_IO_URING): a program whose hook this kernel lacks would fail the whole object, so it
// is left out and named instead. Parses the vmlinux BTF (hundreds of ms under TCG).
std::string leave_out_missing_hooks(guest_lsm* skel) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return "";  // the load itself will say what is wrong
  std::string missing;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    std::string_view section = bpf_program__section_name(prog);
    if (!section.starts_with("lsm/")) continue;
    std::string hook = "bpf_lsm_" + std::string(section.substr(4));
    if (btf__find_by_name_kind(vmlinux, hook.c_str(), BTF_KIND_FUNC) >= 0) continue;
    bpf_program__set_autoload(prog, false);
    missing += (missing.empty() ? "" : ", ") + std::string(section);
  }
  btf__free(vmlinux);
  return missing;
}

// guest_lsm opened and configured; nullptr (errno set) when it cannot be opened.
SkelPtr open_lsm(const GuestSensorOptions& options) {
  SkelPtr skel(guest_lsm__open());
  if (!skel) return nullptr;
  skel->rodata->cfg.protect_agent = options.protect_agent;
  skel->rodata->cfg.report_agent = options.report_agent;
  skel->rodata->cfg.wakeup_bytes = 64u << 10;
  bpf_map__set_max_entries(skel->maps.events, uint32_t(round_pow2_pages(options.ring_buffer_bytes)));
  return skel;
}

// Opens and loads guest_lsm into `skel`; 0 or a negative errno. The whole object is tried
// first: the guest kernel has every hook, and finding out which ones a kernel lacks costs a
// parse of its BTF. Only when that fails are the missing hooks (named in `missing`) left out
// of a second attempt.
int load_lsm(const GuestSensorOptions& options, SkelPtr& skel, std::string& missing) {
  skel = open_lsm(options);
  if (!skel) return -errno;
  int err = guest_lsm__load(skel.get());
  if (!err) return 0;
  SkelPtr retry = open_lsm(options);
  if (!retry) return err;
  missing = leave_out_missing_hooks(retry.get());
  if (missing.empty()) return err;  // not a missing hook: the first error says what is wrong
  skel = std::move(retry);
  return guest_lsm__load(skel.get());
}

}  // namespace

Result<void> bpf_lsm_active(const std::filesystem::path& lsm_list) {
  std::ifstream f(lsm_list);
  if (!f)
    return fail(ErrorCode::unavailable,
                lsm_list.string() + " is not readable (securityfs not mounted?)");
  std::string text;
  std::getline(f, text);
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (item == "bpf") return {};
  return fail(ErrorCode::unavailable,
              "BPF LSM is not active (\"bpf\" missing from " + lsm_list.string() + ": \"" + text +
                  "\"); boot with lsm=...,bpf");
}

struct GuestSensor::Impl {
  GuestSensorOptions options;
  SkelPtr skel;                                    // destroyed after the ring buffer (below)
  RingBufferPtr lsm_rb;
  std::unique_ptr<probes::SyscallProbes> tracepoints;
  EventStream stream;
  BootClock clock;
  // What the records do not carry (argv, cwd, parent and ancestors), kept from the exec,
  // fork and exit records. Reader thread only.
  probes::ProcTable processes{options.process_capacity};
  // One drain of both ring buffers, put in time order before it is used (reader thread only).
  struct Taken {
    Event event;
    bool tracepoint = false;
  };
  std::vector<Taken> round;
  std::vector<uint32_t> order;  // the time order of `round`
  std::vector<Event> outgoing;  // the round's events to stream, handed to `stream` whole
  std::atomic<bool> stopping{false};
  std::atomic<bool> streaming{false};
  std::atomic<uint64_t> decode_errors{0};
  std::string lsm_reason;  // empty when the LSM programs are attached
  uint64_t parent_cgroup_id = 0;

  std::mutex mu;  // containers, rules, the deny map
  std::map<std::string, std::filesystem::path> containers;  // id -> cgroup dir
  std::map<uint64_t, std::string> cgroup_to_container;
  // Removed containers keep their attribution for a while: their last records may still be
  // queued in the ring buffers when RemoveContainer deletes the cgroup directory.
  struct Retired {
    std::string id;
    std::chrono::steady_clock::time_point until;
  };
  std::map<uint64_t, Retired> retired;
  static constexpr std::chrono::seconds kRetiredGrace{30};
  std::chrono::steady_clock::time_point last_rescan{};
  bool dirty = true;  // a container changed since the last rescan
  std::vector<DenyRule> rules;

  // Copies of `processes` asked for by RPC threads, answered by the reader (answer_process_copies()).
  std::mutex copies_mu;
  std::vector<std::promise<std::vector<probes::ProcEntry>>> copy_requests;
  std::atomic<bool> copy_wanted{false};

  std::vector<std::thread> readers;  // last: joined before the rest goes away

  explicit Impl(const GuestSensorOptions& o) : options(o), stream(o.stream) {}

  // Re-reads the inode numbers of the known containers' cgroup directories. Caller holds mu.
  void rescan_locked() {
    auto now = std::chrono::steady_clock::now();
    for (const auto& [cg, id] : cgroup_to_container)
      if (!containers.contains(id)) retired[cg] = {id, now + kRetiredGrace};
    std::erase_if(retired, [&](const auto& r) { return r.second.until < now; });
    cgroup_to_container.clear();
    for (const auto& [id, dir] : containers) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) == 0) cgroup_to_container[uint64_t(st.st_ino)] = id;
    }
    last_rescan = std::chrono::steady_clock::now();
    dirty = false;
  }

  std::string container_of(uint64_t cgroup_id) {
    if (!cgroup_id) return {};
    std::lock_guard lock(mu);
    auto it = cgroup_to_container.find(cgroup_id);
    if (it != cgroup_to_container.end()) return it->second;
    if (auto r = retired.find(cgroup_id); r != retired.end()) return r->second.id;
    // A container's cgroup exists only once it starts; rescan on a miss, but rarely, so a
    // flood of events from unknown cgroups (the agent's, the root) costs no stat storm.
    auto now = std::chrono::steady_clock::now();
    if (dirty || now - last_rescan > std::chrono::milliseconds(500)) {
      rescan_locked();
      it = cgroup_to_container.find(cgroup_id);
      if (it != cgroup_to_container.end()) return it->second;
    }
    return {};
  }

  // A tracepoint record from agent code: the agent itself or a launcher before its execve
  // (rootfs mounts, /dev binds, ... in the container's cgroup). The LSM programs keep the
  // marks; a record read after the launcher exec'd is compared with its exec time.
  bool from_agent_code(const Event& ev) {
    if (!skel) return false;
    const AgentMarks& marks = agent_marks_of(ev.proc.pid);
    if (marks.agent) return true;
    if (marks.launcher) {
      // The launcher's exec itself is the workload's first record (stamped at sys_enter, before
      // the LSM check saw it): it describes the image the container runs.
      bool exec_done = (ev.type == EventType::execve || ev.type == EventType::execveat) && ev.has_res && ev.res == 0;
      return !exec_done && ev.time_ns < clock.to_wall_ns(marks.launcher_exec_ns);
    }
    return false;
  }

  // What the LSM programs' maps say of a tgid, read once per drain: two bpf() calls for every
  // record would be the reader's largest cost under emulation. A mark set while the round is
  // processed is seen in the next round, as it would be had the lookups run a moment earlier.
  struct AgentMarks {
    bool agent = false;
    bool launcher = false;
    uint64_t launcher_exec_ns = 0;  // boot clock
  };
  std::unordered_map<uint32_t, AgentMarks> round_marks;  // reader thread; cleared per drain

  const AgentMarks& agent_marks_of(uint32_t tgid) {
    auto [it, inserted] = round_marks.try_emplace(tgid);
    if (!inserted) return it->second;
    uint8_t mark = 0;
    it->second.agent = bpf_map_lookup_elem(bpf_map__fd(skel->maps.agent_tgids_map), &tgid, &mark) == 0;
    if (!it->second.agent)
      it->second.launcher =
          bpf_map_lookup_elem(bpf_map__fd(skel->maps.launcher_exec_map), &tgid, &it->second.launcher_exec_ns) == 0;
    return it->second;
  }

  void take_record(std::span<const uint8_t> record, bool tracepoint) noexcept {
    try {
      auto ev = decode_event(record, View::guest, clock);
      if (!ev) {
        ++decode_errors;
        return;
      }
      round.push_back(Taken{std::move(*ev), tracepoint});
    } catch (...) {
      ++decode_errors;
    }
  }

  static int lsm_record(void* ctx, void* data, size_t size) noexcept {
    static_cast<Impl*>(ctx)->take_record(
        std::span<const uint8_t>(static_cast<const uint8_t*>(data), size), false);
    return 0;
  }

  // Takes what both ring buffers hold and streams it in time order. The LSM ring buffer is
  // drained first: a record in it was written after every earlier record of the same task in
  // the tracepoint ring buffer (an exec's), so that one is drained too, and the time order
  // puts the exec before what the new image did: the process table describes each event
  // with the image that did it.
  bool drain() noexcept {
    round.clear();
    if (lsm_rb) {
      int n = ring_buffer__consume(lsm_rb.get());
      if (n < 0 && n != -EINTR) {
        logger("probes")->error("guest_lsm ring buffer: {}", errno_text(-n));
        return false;
      }
    }
    if (tracepoints) {
      auto n = tracepoints->consume([this](std::span<const uint8_t> r) { take_record(r, true); });
      if (!n) {
        logger("probes")->error("guest tracepoints: {}", n.error().describe());
        return false;
      }
    }
    // Sorted by index: an Event is large, and moving each one several times cost more than
    // sorting it (agent_path_bench).
    order.resize(round.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [this](uint32_t a, uint32_t b) { return round[a].event.time_ns < round[b].event.time_ns; });
    round_marks.clear();
    outgoing.clear();
    outgoing.reserve(order.size());
    for (uint32_t i : order) {
      auto& t = round[i];
      try {
        if (deliver(t.event, t.tracepoint)) outgoing.push_back(std::move(t.event));
      } catch (...) {
        ++decode_errors;
      }
    }
    stream.push_all(std::move(outgoing));
    outgoing = {};  // handed over whole; the next drain starts a new one
    round.clear();
    return true;
  }

  // Describes and attributes one event; false when it is not to be streamed (the agent's own).
  bool deliver(Event& ev, bool tracepoint) {
    // The table follows every exec, fork and exit, the agent's launchers' included (their
    // children are the workload); an exit is described before it leaves the table.
    if (tracepoint && ev.type != EventType::procexit) processes.update(ev);
    if (tracepoint && from_agent_code(ev)) {
      if (ev.type == EventType::procexit) processes.update(ev);
      if (!options.report_agent) return false;
      ev.proc.is_agent = true;
      ev.flags |= KS_F_AGENT;
    }
    processes.enrich(ev);
    if (tracepoint && ev.type == EventType::procexit) processes.update(ev);
    ev.container_id = container_of(ev.proc.cgroup_id);
    return true;
  }

  // Reader thread, between drains: hands a copy of the table to whoever asked.
  void answer_process_copies() noexcept {
    if (!copy_wanted.exchange(false)) return;
    std::vector<std::promise<std::vector<probes::ProcEntry>>> asked;
    {
      std::lock_guard lock(copies_mu);
      asked.swap(copy_requests);
    }
    try {
      std::vector<probes::ProcEntry> copy;
      copy.reserve(processes.size());
      for (uint32_t pid : processes.pids())
        if (auto e = processes.lookup(pid)) copy.push_back(std::move(*e));
      for (auto& a : asked) a.set_value(copy);
    } catch (...) {
      // Out of memory: the askers see a broken promise and fail their call.
    }
  }

  ContainerCgroups cgroups_locked() {
    rescan_locked();
    ContainerCgroups cg;
    cg.parent_cgroup_id = parent_cgroup_id;
    for (const auto& [cgid, id] : cgroup_to_container) cg.containers[id] = cgid;
    return cg;
  }

  // Writes the idle bank, then switches to it in one store: the programs see either the
  // whole old set or the whole new one. Caller holds mu.
  Status install_locked(const CompiledDenySet& set) {
    if (!skel) return {};
    uint32_t active = __atomic_load_n(&skel->bss->deny_active, __ATOMIC_ACQUIRE);
    uint32_t bank = (active & KS_DENY_BANK_BIT) ? 0 : 1;
    int fd = bpf_map__fd(skel->maps.deny_rules_map);
    for (size_t i = 0; i < set.entries.size(); ++i) {
      uint32_t key = bank * KS_DENY_MAX_RULES + uint32_t(i);
      if (bpf_map_update_elem(fd, &key, &set.entries[i], BPF_ANY) != 0)
        return fail_errno("guest_lsm: write deny_rules_map[" + std::to_string(key) + "]");
    }
    int ranges_fd = bpf_map__fd(skel->maps.deny_ranges_map);
    for (uint32_t t = 0; t < KS_EVT_MAX; ++t) {
      uint32_t key = bank * KS_EVT_MAX + t;
      if (bpf_map_update_elem(ranges_fd, &key, &set.ranges[t], BPF_ANY) != 0)
        return fail_errno("guest_lsm: write deny_ranges_map[" + std::to_string(key) + "]");
    }
    uint32_t next = (bank ? KS_DENY_BANK_BIT : 0) | uint32_t(set.entries.size());
    __atomic_store_n(&skel->bss->deny_active, next, __ATOMIC_RELEASE);
    return {};
  }

  Result<EnforcementResult> apply_locked() {
    EnforcementResult res;
    if (!skel) {
      for (const auto& r : rules)
        res.refused.push_back(r.name + ": in-guest enforcement unavailable: " + lsm_reason);
      return res;
    }
    CompiledDenySet set = compile_deny_set(rules, cgroups_locked());
    if (auto s = install_locked(set); !s) return std::unexpected(s.error());
    res.installed = set.installed;
    res.refused = std::move(set.refused);
    logger("probes")->info("guest deny set: {} rules, {} kernel entries, {} refused",
                           res.installed, set.entries.size(), res.refused.size());
    return res;
  }

  uint64_t lsm_stat(uint32_t index) const {
    if (!skel) return 0;
    return probes::sum_percpu_counter(skel->maps.stats_map, index, "guest_lsm stats_map").value_or(0);
  }
};

Status GuestSensor::set_wanted_types(const WantedTypes& wanted, const FieldFilters& fields) {
  std::lock_guard lock(impl_->mu);
  // The old path/comm conditions go first: with the new types and the old conditions, a type
  // whose rules changed would lose records for a moment.
  auto lsm_field_filters = [&](const FieldFilters& f) -> Status {
    if (!impl_->skel) return {};
    return probes::install_field_filters(impl_->skel->maps.field_filters_map, impl_->skel->maps.filter_entries_map,
                                         &impl_->skel->bss->field_filter_bank, f, "guest_lsm");
  };
  if (impl_->tracepoints)
    if (auto st = impl_->tracepoints->set_field_filters({}); !st) return st;
  if (auto st = lsm_field_filters({}); !st) return st;
  if (impl_->skel)
    if (auto st = probes::write_wanted_types(impl_->skel->maps.wanted_types_map, wanted, "guest_lsm wanted_types_map"); !st)
      return st;
  if (impl_->tracepoints)
    if (auto st = impl_->tracepoints->set_wanted_types(wanted); !st) return st;
  if (impl_->tracepoints)
    if (auto st = impl_->tracepoints->set_field_filters(fields); !st) return st;
  if (auto st = lsm_field_filters(fields); !st) return st;
  logger("probes")->info("guest sensor: records built for {} of {} event types (and the process lifecycle); path/comm "
                         "conditions on {} of them",
                         wanted.count(), wanted.size(), fields.size());
  return {};
}

GuestSensor::GuestSensor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GuestSensor::~GuestSensor() {
  impl_->stopping = true;
  impl_->stream.close();
  for (auto& t : impl_->readers) t.join();
}

Result<std::unique_ptr<GuestSensor>> GuestSensor::start(const GuestSensorOptions& options) {
  auto log = logger("probes");
  auto impl = std::make_unique<Impl>(options);

  std::error_code ec;
  std::filesystem::create_directories(options.cgroup_parent, ec);
  if (auto id = probes::SyscallProbes::cgroup_id_of(options.cgroup_parent.string()))
    impl->parent_cgroup_id = *id;
  else
    log->warn("guest sensor: {}: container-wide rules and syscall tracing unavailable",
              id.error().describe());

  // LSM set: only where BPF LSM actually runs programs.
  if (!options.load_lsm) {
    impl->lsm_reason = "LSM probes disabled by configuration";
  } else if (auto active = bpf_lsm_active(options.lsm_list); !active) {
    impl->lsm_reason = active.error().message;
  } else {
    SkelPtr skel;
    std::string missing;
    int err = load_lsm(options, skel, missing);
    if (!missing.empty()) log->warn("guest sensor: LSM hooks this kernel lacks, not watched: {}", missing);
    if (!err) {
      uint32_t self = uint32_t(::getpid());
      uint8_t one = 1;
      err = bpf_map_update_elem(bpf_map__fd(skel->maps.agent_tgids_map), &self, &one, BPF_ANY);
      if (err) err = -errno;
    }
    // Every LSM record is built until the host narrows the set (SetWantedTypes).
    if (!err)
      if (auto st = probes::write_wanted_types(skel->maps.wanted_types_map, WantedTypes().set(), "guest_lsm wanted_types_map"); !st)
        err = -(st.error().sys_errno ? st.error().sys_errno : EIO);
    if (!err) err = guest_lsm__attach(skel.get());
    if (err) {
      impl->lsm_reason = (skel ? "load/attach guest_lsm: " : "open guest_lsm: ") + errno_text(-err);
    } else {
      impl->lsm_rb.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::lsm_record,
                                          impl.get(), nullptr));
      if (!impl->lsm_rb) impl->lsm_reason = "guest_lsm ring buffer: " + errno_text(errno);
      else impl->skel = std::move(skel);
    }
  }
  if (impl->skel)
    log->info("guest sensor: BPF LSM probes attached (enforcement available)");
  else
    log->warn("guest sensor: in-guest enforcement unavailable: {}", impl->lsm_reason);

  // Syscall events: the host tracepoint object, scoped to the containers' cgroups, so the
  // agent (in the root cgroup) never traces itself.
  if (options.load_tracepoints && impl->parent_cgroup_id) {
    probes::SyscallProbesOptions tp;
    tp.scope_enabled = true;
    tp.watch_cgroups = {impl->parent_cgroup_id};
    tp.ring_buffer_bytes = options.ring_buffer_bytes;
    tp.pending_capacity = options.pending_capacity;
    tp.wakeup_bytes = 64u << 10;
    tp.allow_lsm = false;  // the guest LSM set above is ours
    auto probes = probes::SyscallProbes::open(tp);
    if (probes)
      impl->tracepoints = std::move(*probes);
    else
      log->warn("guest sensor: syscall tracepoints unavailable: {}", probes.error().describe());
  }
  if (!impl->skel && !impl->tracepoints)
    return fail(ErrorCode::unavailable,
                "guest sensor: neither LSM probes (" + impl->lsm_reason + ") nor tracepoints loaded");

  // One reader for both ring buffers: it waits on both (an epoll set of their epoll fds) and
  // drains both in one round, so that records can be put in time order (see drain()).
  Impl* p = impl.get();
  UniqueFd waiter(::epoll_create1(EPOLL_CLOEXEC));
  if (!waiter) return fail_errno("guest sensor: epoll_create1");
  for (int fd : {p->lsm_rb ? ring_buffer__epoll_fd(p->lsm_rb.get()) : -1,
                 p->tracepoints ? p->tracepoints->epoll_fd() : -1}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (::epoll_ctl(waiter.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail_errno("guest sensor: epoll_ctl");
  }
  p->readers.emplace_back([p, waiter = std::move(waiter)] {
    using Clock = std::chrono::steady_clock;
    const auto window = std::chrono::microseconds(probes::kCoalesceMicros);
    auto last_drained = Clock::time_point{};
    int quick_wakeups = 0;  // in a row, each within a window of the previous drain
    while (!p->stopping) {
      // The first record after idle wakes the wait (see submit_bytes() in syscall_probes.bpf.c
      // and emit() in guest_lsm.bpf.c). After idle the reader only lets the waking operation
      // finish (kSettleMicros) and drains: a lone operation (an attack's one syscall) waits no
      // coalescing window, which in a TCG guest oversleeps to ~1.5 ms. A third wakeup in a row,
      // each within a window of the previous drain, is a stream: from there the burst gathers
      // for the whole window first, so a stream still costs at most one wakeup per window.
      epoll_event ev[2];
      int n = ::epoll_wait(waiter.get(), ev, 2, 100);
      if (n > 0) {
        quick_wakeups = Clock::now() - last_drained < window ? quick_wakeups + 1 : 0;
        ::usleep(quick_wakeups >= 2 ? probes::kCoalesceMicros : kSettleMicros);
      }
      if (n < 0 && errno != EINTR) {
        logger("probes")->error("guest sensor: epoll_wait: {}", errno_text(errno));
        return;
      }
      if (!p->drain()) return;
      last_drained = Clock::now();
      p->answer_process_copies();
    }
  });
  return std::unique_ptr<GuestSensor>(new GuestSensor(std::move(impl)));
}

void GuestSensor::container_changed(const std::string& id, const std::filesystem::path& cgroup_dir,
                                    bool present) {
  std::lock_guard lock(impl_->mu);
  if (present)
    impl_->containers[id] = cgroup_dir;
  else
    impl_->containers.erase(id);
  impl_->dirty = true;
  // Read the cgroup id now, while the directory exists; a removed container's id is retired.
  impl_->rescan_locked();
  bool names_containers = false;
  for (const auto& r : impl_->rules) {
    names_containers |= !r.container_ids.empty();
    for (const auto& e : r.exceptions) names_containers |= !e.container_ids.empty();
  }
  if (names_containers) {
    if (auto res = impl_->apply_locked(); !res)
      logger("probes")->error("guest deny set after container {} changed: {}", id,
                              res.error().describe());
  }
}

Result<EnforcementResult> GuestSensor::set_enforcement(std::vector<DenyRule> rules) {
  std::lock_guard lock(impl_->mu);
  auto old = std::move(impl_->rules);
  impl_->rules = std::move(rules);
  auto res = impl_->apply_locked();
  if (!res) impl_->rules = std::move(old);  // the kernel still enforces the old set
  return res;
}

Status GuestSensor::stream(const std::function<bool(GuestEventBatch&&)>& send,
                           const std::function<bool()>& cancelled, size_t max_batch_events,
                           std::chrono::milliseconds max_batch_delay,
                           std::chrono::milliseconds heartbeat_interval) {
  if (impl_->streaming.exchange(true))
    return fail(ErrorCode::unavailable, "StreamEvents: another stream is active");
  struct Release {
    std::atomic<bool>& f;
    ~Release() { f = false; }
  } release{impl_->streaming};
  max_batch_events = std::clamp<size_t>(max_batch_events ? max_batch_events : 256, 1, 4096);
  // Short: a batch that waits to fill is detection latency (the host's alert waits with it).
  if (max_batch_delay.count() <= 0) max_batch_delay = std::chrono::milliseconds(2);
  max_batch_delay = std::min(max_batch_delay, std::chrono::milliseconds(1000));
  auto last_heartbeat = std::chrono::steady_clock::time_point{};
  // The kernel's counters cost seven bpf() calls to read; at a high rate batches leave every
  // few ms, so they are read at most every kKernelStatsInterval (heartbeats always read them).
  // The agent's own counters are always current.
  GuestSensorStats kernel_read;
  auto kernel_read_at = std::chrono::steady_clock::time_point{};
  auto batch_stats = [&] {
    auto now = std::chrono::steady_clock::now();
    if (now - kernel_read_at >= kKernelStatsInterval) {
      kernel_read = stats();
      kernel_read_at = now;
      return kernel_read;
    }
    GuestSensorStats s = kernel_read;
    auto c = impl_->stream.counters();
    s.rate_limited = c.rate_limited;
    s.queue_drops = c.queue_drops;
    s.sent = c.sent;
    s.decode_errors = impl_->decode_errors;
    return s;
  };
  while (!impl_->stopping && !(cancelled && cancelled())) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_heartbeat >= heartbeat_interval) {
      // Sent even while events flow: the host's liveness check needs no event traffic.
      GuestEventBatch hb;
      hb.heartbeat = true;
      hb.first_seq = impl_->stream.counters().sent;
      hb.stats = stats();
      if (!send(std::move(hb))) return {};
      last_heartbeat = now;
    }
    GuestEventBatch batch;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        last_heartbeat + heartbeat_interval - std::chrono::steady_clock::now());
    wait = std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(200));
    if (!impl_->stream.take(batch.events, batch.first_seq, max_batch_events, max_batch_delay, wait))
      break;
    if (batch.events.empty()) continue;
    batch.stats = batch_stats();
    if (!send(std::move(batch))) return {};
  }
  return {};
}

Status GuestSensor::kill_container_process(uint32_t pid, int sig) {
  const std::string what = "KillGuestProcess pid " + std::to_string(pid);
  if (pid <= 1 || pid == uint32_t(::getpid()))
    return fail(ErrorCode::permission_denied, what + ": the agent's own process");
  if (sig < 1 || sig > 64) return fail(ErrorCode::invalid_argument, what + ": bad signal");
  if (impl_->skel) {
    uint8_t v;
    if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.agent_tgids_map), &pid, &v) == 0)
      return fail(ErrorCode::permission_denied, what + ": an agent process");
  }
  int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return fail_errno(what + ": pidfd_open");
  // Checked after the pidfd pins the process, so the pid cannot be recycled in between.
  std::string cg = proc_cgroup(pid);
  std::string rel = cgroup_name(impl_->options.cgroup_parent);
  bool inside = !rel.empty() && cg.size() > rel.size() && cg.rfind(rel + "/", 0) == 0;
  Status s;
  if (!inside)
    s = fail(ErrorCode::permission_denied,
             what + ": not in a container (cgroup \"" + cg + "\")");
  else if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0)
    s = fail_errno(what + ": pidfd_send_signal");
  ::close(pidfd);
  return s;
}

Result<GuestProcessSnapshot> GuestSensor::processes(size_t max, std::chrono::milliseconds timeout) {
  std::future<std::vector<probes::ProcEntry>> answer;
  {
    std::lock_guard lock(impl_->copies_mu);
    // Requests a stuck reader never answered stay queued: refuse more than a few.
    if (impl_->copy_requests.size() >= kMaxPendingProcessCopies)
      return fail(ErrorCode::unavailable, "ListGuestProcesses: the sensor's reader is not answering");
    impl_->copy_requests.emplace_back();
    answer = impl_->copy_requests.back().get_future();
  }
  impl_->copy_wanted = true;
  if (answer.wait_for(timeout) != std::future_status::ready)
    return fail(ErrorCode::timeout, "ListGuestProcesses: the sensor's reader did not answer");
  std::vector<probes::ProcEntry> table;
  try {
    table = answer.get();
  } catch (const std::exception& e) {
    return fail(ErrorCode::unavailable, std::string("ListGuestProcesses: ") + e.what());
  }
  const uint32_t self = uint32_t(::getpid());
  if (std::none_of(table.begin(), table.end(), [&](const auto& e) { return e.pid == self; }))
    if (auto me = probes::ProcTable(1).read_proc(self)) table.push_back(std::move(*me));
  std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });

  // The containers' cgroups as /proc/<pid>/cgroup names them ("/kata-sentry/<id>").
  std::vector<std::pair<std::string, std::string>> container_cgroups;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [id, dir] : impl_->containers) container_cgroups.emplace_back(cgroup_name(dir), id);
  }
  GuestProcessSnapshot snap;
  for (auto& e : table) {
    // The cgroup file is also the liveness check: an exited process has none.
    std::string cg = proc_cgroup(e.pid);
    if (cg.empty()) continue;
    if (snap.processes.size() == max) {
      snap.truncated = true;
      break;
    }
    GuestProcessInfo info;
    for (const auto& [rel, id] : container_cgroups)
      if (cg == rel || cg.rfind(rel + "/", 0) == 0) info.container_id = id;
    info.agent = e.pid == self;
    info.process = std::move(e);
    snap.processes.push_back(std::move(info));
  }
  return snap;
}

GuestSensorStats GuestSensor::stats() const {
  GuestSensorStats s;
  auto c = impl_->stream.counters();
  s.rate_limited = c.rate_limited;
  s.queue_drops = c.queue_drops;
  s.sent = c.sent;
  s.decode_errors = impl_->decode_errors;
  s.ringbuf_drops = impl_->lsm_stat(KS_STAT_RINGBUF_DROPS);
  s.denied = impl_->lsm_stat(KS_STAT_DENIED);
  if (impl_->tracepoints)
    if (auto t = impl_->tracepoints->stats()) s.ringbuf_drops += t->drops();
  s.lsm_enforcing = impl_->skel != nullptr;
  s.lsm_unavailable_reason = impl_->lsm_reason;
  return s;
}

bool GuestSensor::lsm_enforcing() const { return impl_->skel != nullptr; }

Status GuestSensor::set_attached(bool attached) {
  std::lock_guard lock(impl_->mu);
  if (impl_->skel) {
    if (!attached) {
      guest_lsm__detach(impl_->skel.get());
    } else if (int err = guest_lsm__attach(impl_->skel.get()); err) {
      return fail(ErrorCode::unavailable, "attach guest_lsm: " + errno_text(-err), -err);
    }
  }
  if (impl_->tracepoints) return impl_->tracepoints->set_attached(attached);
  return {};
}

}  // namespace kata_sentry::guest_probes
