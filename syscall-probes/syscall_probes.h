// The host probes: BPF programs on syscall and scheduler tracepoints (and LSM hooks where
// the host has BPF LSM) that write struct ks_event records into a ring buffer. This
// header hides libbpf: callers get raw records (decode them with core/event_decode.h)
// and plain counters.
//
// Threading: one thread polls; watch/unwatch and stats may be called from any thread
// (they only touch BPF maps).
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/field_filters.h"
#include "core/result.h"
#include "syscall-probes/capabilities.h"

namespace kata_sentry::probes {

struct SyscallProbesOptions {
  // When false every process on the host is traced (except `exclude_tgid`).
  bool scope_enabled = false;
  // Children of a watched tgid are watched too (added in the kernel at fork).
  bool follow_children = true;
  std::vector<uint32_t> watch_tgids;
  std::vector<uint64_t> watch_cgroups;  // cgroup v2 ids (inode numbers of the directories)
  // Never traced, decided in the kernel; 0 = the calling process itself.
  uint32_t exclude_tgid = 0;
  size_t ring_buffer_bytes = 8u << 20;  // rounded up to a power of two, at least one page
  // An idle consumer is woken by the first record; a busy one (records queued) once this much
  // is queued (0 = on every record). See poll_coalesced() in bpf_util.h.
  size_t wakeup_bytes = 256u << 10;
  // Threads that can be inside a traced syscall at once (pending_map: one struct ks_event,
  // ~1.3 KiB, per thread, preallocated and zeroed at load: 8192 are 10 MiB of kernel memory).
  // Beyond it the record is dropped and counted (KS_STAT_PENDING_DROPS).
  uint32_t pending_capacity = 8192;
  bool allow_lsm = true;                // use the LSM set when capability detection allows
  // Bit N set: build records of event type N (see set_wanted_types()). Only the programs of
  // these types are attached at first (and the process lifecycle ones, always).
  std::bitset<kEventTypeSlots> wanted_types = std::bitset<kEventTypeSlots>().set();
};

struct ProbeStats {
  uint64_t events = 0;         // records submitted to the ring buffer
  uint64_t ringbuf_drops = 0;  // records lost: ring buffer full
  uint64_t pending_drops = 0;  // syscalls not reported: enter/exit pairing table full
  uint64_t read_errors = 0;    // records sent with a user/kernel read that failed
  uint64_t filtered = 0;       // syscalls of watched tasks not reported: no consumer wants their type
  uint64_t filtered_fields = 0;  // ... of a wanted type, but no consumer wants their path or comm
  uint64_t drops() const { return ringbuf_drops + pending_drops; }
};

class SyscallProbes {
 public:
  // Loads and attaches everything. Fails when the tracepoint set cannot be loaded or
  // attached (message names the program: "attach syscall_probes tp/syscalls/...: EPERM").
  // A failing optional set (LSM) is logged at warn and left out.
  static Result<std::unique_ptr<SyscallProbes>> open(const SyscallProbesOptions& options);
  ~SyscallProbes();
  SyscallProbes(const SyscallProbes&) = delete;  // the ring buffer callback holds `this`
  SyscallProbes& operator=(const SyscallProbes&) = delete;

  // Bit N set: build records of event type N (enum ks_event_type); the set starts as
  // SyscallProbesOptions::wanted_types. Widening attaches the programs of the new types (cheap);
  // narrowing leaves every program attached and only switches the types off in the kernel map
  // (a rule reload never detaches: each detach waits for RCU grace periods). Process lifecycle
  // records (exec, fork, exit) are sent whatever the set says: the process table depends on
  // them. Fails when the kernel map could not be written (a failure part way leaves some types
  // switched already, so callers retry or widen to all) or a program failed to attach.
  using TypeMask = std::bitset<kEventTypeSlots>;
  Status set_wanted_types(const TypeMask& wanted);

  // Per type, the paths and comms some consumer can use (core/field_filters.h; empty: no
  // condition, the start). A syscall record of a wanted type whose path or comm matches none
  // of its type's entries is neither parked nor sent (counted in ProbeStats::filtered_fields);
  // exec, fork and exit records always go. Written into the idle bank of the kernel maps and
  // switched in one store, so a reload never shows the probes half a set. A set that does not
  // fit the maps leaves that type unconstrained (logged). Fails when a map write fails (the
  // active set is then unchanged).
  Status set_field_filters(const FieldFilters& filters);

  // Runtime scope changes; only meaningful with scope_enabled.
  Status watch_tgid(uint32_t tgid);
  Status unwatch_tgid(uint32_t tgid);  // ENOENT is not an error
  Status watch_cgroup(uint64_t cgroup_id);
  Status unwatch_cgroup(uint64_t cgroup_id);
  // A cgroup v2 directory's id is its inode number.
  static Result<uint64_t> cgroup_id_of(const std::string& path);

  using RecordFn = std::function<void(std::span<const uint8_t> record)>;
  // Waits up to timeout_ms for records and hands each to `on_record` (on this thread),
  // then drains whatever is queued below the wakeup threshold. Returns the number of
  // records; EINTR counts as 0 records, not an error.
  Result<int> poll(int timeout_ms, const RecordFn& on_record);
  // Hands every queued record to `on_record` without waiting. For a consumer that waits on
  // several ring buffers itself (the guest sensor): epoll_fd() becomes readable when the
  // kernel wakes this ring buffer's consumer.
  Result<int> consume(const RecordFn& on_record);
  int epoll_fd() const;

  // Sum over CPUs of the BPF-side counters.
  Result<ProbeStats> stats() const;

  // "using tracepoints: fentry unavailable: BPF_PROG_LOAD EPERM; ..."
  const std::string& backend_report() const { return backend_report_; }
  size_t attached_programs() const;
  // Detaches every program (maps, scope and ring buffer stay) or attaches them again, e.g. to
  // measure the probes' cost against a baseline in the same kernel. Attaching is all or nothing.
  Status set_attached(bool attached);

 private:
  struct Impl;
  explicit SyscallProbes(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string backend_report_;
};

// Mounts tracefs at /sys/kernel/tracing when no tracefs is reachable: libbpf needs it to
// resolve tracepoint ids. Returns what it did ("" when nothing was needed).
Result<std::string> ensure_tracefs();

}  // namespace kata_sentry::probes
