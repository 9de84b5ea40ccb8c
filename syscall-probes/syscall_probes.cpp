#include "syscall-probes/syscall_probes.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/logging.h"
#include <linux/types.h>

#include "syscall-probes/bpf/syscall_probes_cfg.h"
#include "syscall-probes/bpf_util.h"
#include "syscall-probes/field_filter_writer.h"
#include "syscall-probes/libbpf_log.h"
#include "syscall-probes/program_types.h"
#include "syscall_probes.skel.h"

namespace kata_sentry::probes {
namespace {

template <typename Skel>
struct SkelDeleter {
  void operator()(Skel* s) const noexcept { syscall_probes__destroy(s); }
};
using SkelPtr = std::unique_ptr<syscall_probes, SkelDeleter<syscall_probes>>;
struct LinkDeleter {
  void operator()(bpf_link* l) const noexcept { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;
struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const noexcept { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

int libbpf_print_bridge(enum libbpf_print_level level, const char* fmt, va_list args) {
  // Verifier logs run to megabytes: size the buffer from the message.
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(buf.data(), buf.size(), fmt, args);
  buf.resize(static_cast<size_t>(n));
  while (!buf.empty() && (buf.back() == '\n' || buf.back() == '\r')) buf.pop_back();
  auto log = logger("probes");
  switch (level) {
    case LIBBPF_WARN: log->warn("libbpf: {}", buf); break;
    case LIBBPF_INFO: log->debug("libbpf: {}", buf); break;  // chatty lifecycle detail
    default: log->trace("libbpf: {}", buf); break;
  }
  return n;
}


// Syscall tracepoints that some kernels lack (older kernels: openat2, fchmodat2;
// CONFIG_MODULES=n: the module syscalls; CONFIG_KEXEC*, CONFIG_USERFAULTFD, CONFIG_IO_URING,
// CONFIG_KEYS, CONFIG_PERF_EVENTS, CONFIG_CROSS_MEMORY_ATTACH off: theirs); missing ones are
// skipped and named in the log.
bool optional_program(std::string_view section) {
  for (std::string_view name : {"fchmodat2", "openat2", "init_module", "finit_module", "kexec_load", "kexec_file_load",
                                "userfaultfd", "io_uring_setup", "keyctl", "add_key", "request_key", "perf_event_open",
                                "process_vm_readv", "process_vm_writev"})
    if (section.ends_with("_" + std::string(name))) return true;
  return false;
}

// Checked before attaching so that libbpf does not log an error for an expected absence.
bool tracepoint_exists(std::string_view section) {
  constexpr std::string_view kPrefix = "tp/";
  if (!section.starts_with(kPrefix)) return true;
  std::string rel(section.substr(kPrefix.size()));
  std::error_code ec;
  for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"})
    if (std::filesystem::exists(root + rel, ec)) return true;
  return false;
}

size_t round_ring_size(size_t bytes) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t size = page;
  while (size < bytes) size <<= 1;
  return size;
}

}  // namespace

void install_libbpf_logging() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_print_bridge); });
}

struct SyscallProbes::Impl {
  // Member order is destruction order reversed: the ring buffer goes first, then the
  // links, and the skeleton (which owns the maps and programs) last.
  SkelPtr skel;
  std::vector<LinkPtr> links;
  std::vector<const bpf_program*> attached;  // the programs attached (a syscall's enter: with its exit)
  TypeMask wanted;                            // as last written to wanted_types_map
  mutable std::mutex attach_mu;               // links, attached, wanted
  RingBufferPtr ring;
  const RecordFn* on_record = nullptr;  // set only for the duration of poll()
  std::mutex scope_mu;

  ~Impl() {
    ring.reset();
    detach_all();
  }

  Status attach_wanted(std::string& skipped);
  void detach_all() {
    // Detaching a tracepoint waits for RCU grace periods (~65 ms each here); detaching
    // from several threads lets those waits overlap instead of adding up to seconds.
    constexpr size_t kThreads = 16;
    std::vector<std::thread> workers;
    for (size_t t = 0; t < kThreads && t < links.size(); ++t)
      workers.emplace_back([this, t] {
        for (size_t i = t; i < links.size(); i += kThreads) links[i].reset();
      });
    for (auto& w : workers) w.join();
    links.clear();
    attached.clear();
  }

  static int on_ring_record(void* ctx, void* data, size_t size) noexcept {
    auto* self = static_cast<Impl*>(ctx);
    if (!self->on_record) return 0;
    try {
      (*self->on_record)(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
    } catch (...) {
      // Nothing may unwind through libbpf; the caller's handler is expected not to throw.
    }
    return 0;
  }

  Status map_update(bpf_map* map, const void* key, size_t key_size, const char* what) {
    uint8_t one = 1;
    if (bpf_map__update_elem(map, key, key_size, &one, sizeof one, BPF_ANY) != 0)
      return fail_errno(std::string("update syscall_probes ") + what);
    return {};
  }
  Status map_delete(bpf_map* map, const void* key, size_t key_size, const char* what) {
    if (bpf_map__delete_elem(map, key, key_size, 0) != 0 && errno != ENOENT)
      return fail_errno(std::string("delete from syscall_probes ") + what);
    return {};
  }
};

Result<std::string> ensure_tracefs() {
  std::error_code ec;
  if (std::filesystem::exists("/sys/kernel/tracing/events", ec) ||
      std::filesystem::exists("/sys/kernel/debug/tracing/events", ec))
    return std::string();
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    return fail_errno("mount tracefs at /sys/kernel/tracing (needed to attach tracepoints)");
  return std::string("mounted tracefs at /sys/kernel/tracing");
}

Result<uint64_t> SyscallProbes::cgroup_id_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return fail_errno("stat cgroup " + path);
  if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::invalid_argument, "cgroup " + path + ": not a directory");
  return static_cast<uint64_t>(st.st_ino);
}

SyscallProbes::SyscallProbes(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SyscallProbes::~SyscallProbes() = default;

// Attaches every autoloaded program not attached yet whose type is wanted (programs of no one
// type, such as the process lifecycle ones, always), each syscall's enter program with the
// shared exit program on that syscall's exit; `skipped` lists syscalls this kernel lacks.
Status SyscallProbes::Impl::attach_wanted(std::string& skipped) {
  constexpr std::string_view kEnter = "tp/syscalls/sys_enter_";
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel->obj) {
    if (!bpf_program__autoload(prog) || prog == skel->progs.handle_sys_exit) continue;
    if (std::find(attached.begin(), attached.end(), prog) != attached.end()) continue;
    const std::string section = bpf_program__section_name(prog);
    if (auto type = syscall_program_type(section); type && !wanted.test(static_cast<size_t>(*type))) continue;
    auto skip = [&] { skipped += (skipped.empty() ? "" : ", ") + section; };
    if (optional_program(section) && !tracepoint_exists(section)) {
      skip();
      continue;
    }
    auto failed = [&](const std::string& what, int err) {
      return fail(err == EPERM ? ErrorCode::permission_denied : ErrorCode::unavailable,
                  "attach syscall_probes " + what + ": " + errno_name(err), err);
    };
    // The exit first: an enter without its exit would park records that nothing ships.
    if (section.starts_with(kEnter)) {
      const std::string exit_tp = "sys_exit_" + section.substr(kEnter.size());
      bpf_link* exit_link = bpf_program__attach_tracepoint(skel->progs.handle_sys_exit, "syscalls", exit_tp.c_str());
      if (!exit_link) {
        int err = errno;
        if (err == ENOENT && optional_program(section)) {
          skip();
          continue;
        }
        return failed("tp/syscalls/" + exit_tp, err);
      }
      links.emplace_back(exit_link);
    }
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      if (err == ENOENT && optional_program(section)) {
        skip();
        continue;
      }
      return failed(section, err);
    }
    links.emplace_back(link);
    attached.push_back(prog);
  }
  return {};
}

Result<std::unique_ptr<SyscallProbes>> SyscallProbes::open(const SyscallProbesOptions& options) {
  install_libbpf_logging();
  auto log = logger("probes");

  auto tracefs = ensure_tracefs();
  if (!tracefs) return std::unexpected(tracefs.error());
  if (!tracefs->empty()) log->warn("{} (it was not mounted)", *tracefs);

  // Probing loads test programs and parses the vmlinux BTF once per BTF-typed one (hundreds
  // of ms of a TCG guest's start-up, where the sensor brings its own LSM set): only when its
  // answer decides something.
  ProbeBackend backend;
  if (options.allow_lsm) {
    backend = choose_backend(probe_bpf_capabilities());
  } else {
    backend.report = "using tracepoints: lsm disabled by option";
  }

  auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  // At most two attempts: with the optional LSM set, then without it.
  for (int attempt = 0;; ++attempt) {
    impl->skel.reset(syscall_probes__open());
    if (!impl->skel) return fail_errno("open syscall_probes skeleton");
    auto* skel = impl->skel.get();
    skel->rodata->cfg.scope.scope_enabled = options.scope_enabled ? 1 : 0;
    skel->rodata->cfg.scope.follow_children = options.follow_children ? 1 : 0;
    skel->rodata->cfg.self_tgid = options.exclude_tgid ? options.exclude_tgid : static_cast<uint32_t>(getpid());
    size_t ring_bytes = round_ring_size(options.ring_buffer_bytes);
    bpf_map__set_max_entries(skel->maps.events, static_cast<uint32_t>(ring_bytes));
    bpf_map__set_max_entries(skel->maps.pending_map, std::max<uint32_t>(options.pending_capacity, 1));
    skel->rodata->cfg.wakeup_bytes = static_cast<uint32_t>(std::min(options.wakeup_bytes, ring_bytes / 2));
    bpf_program__set_autoload(skel->progs.handle_lsm_bprm_check, backend.use_lsm);
    int err = syscall_probes__load(skel);
    if (err == 0) break;
    if (backend.use_lsm && attempt == 0) {
      log->warn("load syscall_probes with the lsm set: {}; falling back to tracepoints only", errno_name(-err));
      backend.use_lsm = false;
      backend.report = "using tracepoints: lsm set failed to load: BPF_PROG_LOAD " + errno_name(-err);
      continue;
    }
    return fail(ErrorCode::unavailable, "load syscall_probes: " + errno_name(-err), -err);
  }
  if (backend.report.find(':') != std::string::npos) log->warn("host probes {}", backend.report);
  else log->info("host probes {}", backend.report);

  auto* skel = impl->skel.get();
  for (uint32_t tgid : options.watch_tgids) {
    auto st = impl->map_update(skel->maps.watched_tgids_map, &tgid, sizeof tgid, "watched_tgids_map");
    if (!st) return std::unexpected(st.error());
  }
  for (uint64_t id : options.watch_cgroups) {
    auto st = impl->map_update(skel->maps.watched_cgroups_map, &id, sizeof id, "watched_cgroups_map");
    if (!st) return std::unexpected(st.error());
  }
  skel->bss->watched_cgroup_count = static_cast<uint32_t>(options.watch_cgroups.size());
  auto probes = std::unique_ptr<SyscallProbes>(new SyscallProbes(std::move(impl)));
  auto* impl_ptr = probes->impl_.get();
  if (auto st = write_wanted_types(skel->maps.wanted_types_map, options.wanted_types, "syscall_probes wanted_types_map"); !st)
    return std::unexpected(st.error());
  impl_ptr->wanted = options.wanted_types;

  auto t_loaded = std::chrono::steady_clock::now();
  std::string skipped;
  if (auto st = impl_ptr->attach_wanted(skipped); !st) return std::unexpected(st.error());

  if (!skipped.empty())
    // Only syscalls this kernel does not have (e.g. module loading with CONFIG_MODULES=n):
    // nothing can call them, so this is not a degraded mode.
    log->info("host probes: syscalls absent from this kernel, not traced: {}", skipped);

  impl_ptr->ring.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_ring_record, impl_ptr, nullptr));
  if (!impl_ptr->ring) return fail_errno("create ring buffer for syscall_probes events");

  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  auto t_done = std::chrono::steady_clock::now();
  log->info("host probes attached: {} programs (load {} ms, attach {} ms), scope {}", impl_ptr->links.size(),
            ms(t_loaded - t0), ms(t_done - t_loaded), options.scope_enabled ? "on" : "off (whole host)");
  probes->backend_report_ = backend.report;
  return probes;
}

size_t SyscallProbes::attached_programs() const {
  std::lock_guard lock(impl_->attach_mu);
  return impl_->links.size();
}

Status SyscallProbes::set_attached(bool attached) {
  std::lock_guard lock(impl_->attach_mu);
  if (!attached) {
    impl_->detach_all();
    return {};
  }
  if (!impl_->links.empty()) return {};
  std::string skipped;
  auto st = impl_->attach_wanted(skipped);
  if (!st) impl_->detach_all();  // all or nothing
  return st;
}

Status SyscallProbes::set_wanted_types(const TypeMask& wanted) {
  std::lock_guard lock(impl_->attach_mu);
  if (auto st = write_wanted_types(impl_->skel->maps.wanted_types_map, wanted, "syscall_probes wanted_types_map"); !st)
    return st;
  impl_->wanted = wanted;
  // A program once attached stays (narrowing is the map's job): detaching would cost RCU waits
  // now and again at the next widening. Detached probes (set_attached(false), or a failed
  // set_attached(true): no link, as the lifecycle programs are always attached) stay detached.
  if (impl_->links.empty()) return {};
  std::string skipped;
  return impl_->attach_wanted(skipped);
}

Status SyscallProbes::set_field_filters(const FieldFilters& filters) {
  std::lock_guard lock(impl_->attach_mu);
  return install_field_filters(impl_->skel->maps.field_filters_map, impl_->skel->maps.filter_entries_map,
                               &impl_->skel->bss->field_filter_bank, filters, "syscall_probes");
}

Status SyscallProbes::watch_tgid(uint32_t tgid) {
  return impl_->map_update(impl_->skel->maps.watched_tgids_map, &tgid, sizeof tgid, "watched_tgids_map");
}

Status SyscallProbes::unwatch_tgid(uint32_t tgid) {
  return impl_->map_delete(impl_->skel->maps.watched_tgids_map, &tgid, sizeof tgid, "watched_tgids_map");
}

Status SyscallProbes::watch_cgroup(uint64_t cgroup_id) {
  std::lock_guard lock(impl_->scope_mu);
  auto* map = impl_->skel->maps.watched_cgroups_map;
  uint8_t one = 1;
  if (bpf_map__update_elem(map, &cgroup_id, sizeof cgroup_id, &one, sizeof one, BPF_NOEXIST) != 0) {
    if (errno == EEXIST) return {};
    return fail_errno("update syscall_probes watched_cgroups_map");
  }
  impl_->skel->bss->watched_cgroup_count++;
  return {};
}

Status SyscallProbes::unwatch_cgroup(uint64_t cgroup_id) {
  std::lock_guard lock(impl_->scope_mu);
  auto* map = impl_->skel->maps.watched_cgroups_map;
  if (bpf_map__delete_elem(map, &cgroup_id, sizeof cgroup_id, 0) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno("delete from syscall_probes watched_cgroups_map");
  }
  impl_->skel->bss->watched_cgroup_count--;
  return {};
}

Result<int> SyscallProbes::poll(int timeout_ms, const RecordFn& on_record) {
  impl_->on_record = &on_record;
  int n = poll_coalesced(impl_->ring.get(), timeout_ms);
  impl_->on_record = nullptr;
  if (n == -EINTR) return 0;
  if (n < 0) return fail(ErrorCode::io, "poll syscall_probes ring buffer: " + errno_name(-n), -n);
  return n;
}

Result<int> SyscallProbes::consume(const RecordFn& on_record) {
  impl_->on_record = &on_record;
  int n = ring_buffer__consume(impl_->ring.get());
  impl_->on_record = nullptr;
  if (n == -EINTR) return 0;
  if (n < 0) return fail(ErrorCode::io, "consume syscall_probes ring buffer: " + errno_name(-n), -n);
  return n;
}

int SyscallProbes::epoll_fd() const { return ring_buffer__epoll_fd(impl_->ring.get()); }

Result<ProbeStats> SyscallProbes::stats() const {
  ProbeStats s;
  struct {
    uint32_t key;
    uint64_t* out;
  } fields[] = {{KS_STAT_EVENTS, &s.events},
                {KS_STAT_RINGBUF_DROPS, &s.ringbuf_drops},
                {KS_STAT_PENDING_DROPS, &s.pending_drops},
                {KS_STAT_READ_ERRORS, &s.read_errors},
                {KS_STAT_FILTERED, &s.filtered},
                {KS_STAT_FILTERED_FIELDS, &s.filtered_fields}};
  for (auto& f : fields) {
    auto v = sum_percpu_counter(impl_->skel->maps.stats_map, f.key, "syscall_probes stats_map");
    if (!v) return std::unexpected(v.error());
    *f.out = *v;
  }
  return s;
}

}  // namespace kata_sentry::probes
