// Host-side deny for one sandbox: host_deny.bpf.c's cgroup programs (connect4/6,
// sendmsg4/6, dev) attached to the sandbox's cgroup v2 directories. A matching connect,
// UDP send or device access fails with EPERM in the kernel, and a KS_EVT_CGROUP_* record
// (decode with core/event_decode.h) says what was refused and by which rule.
//
// Capability detection: open() fails, naming the program and errno, when the kernel or
// the directory does not allow cgroup programs (a v1 directory gives EBADF); callers then
// report deny as unavailable instead of claiming it. Detaching (the destructor) leaves no
// program on the cgroup.
//
// Threading: one thread polls; set() and stats() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/host_support.h"
#include "core/result.h"
#include "host-probes/host_deny_compiler.h"
#include "syscall-probes/syscall_probes.h"

namespace kata_sentry::probes {

class HostDeny {
 public:
  // Loads the programs and attaches every one of them to each directory; all or nothing.
  static Result<std::unique_ptr<HostDeny>> open(const std::vector<std::string>& cgroup_dirs);
  ~HostDeny();
  HostDeny(const HostDeny&) = delete;  // the ring buffer callback holds the impl
  HostDeny& operator=(const HostDeny&) = delete;

  // Replaces the live deny set (idle bank, then one switch): takes effect for the next
  // syscall. Fails only when a map update fails (the old set stays live).
  Status set(const CompiledHostDenySet& set);

  using RecordFn = std::function<void(std::span<const uint8_t> record)>;
  // Waits up to timeout_ms for refusal records; EINTR counts as 0 records.
  Result<int> poll(int timeout_ms, const RecordFn& on_record);

  struct Stats {
    uint64_t denied = 0;         // refusals (each one reported unless the ring was full)
    uint64_t ringbuf_drops = 0;  // refusal records lost
  };
  Result<Stats> stats() const;

  // "cgroup/connect4, ... on /sys/fs/cgroup/unified/kata-sentry/<id>"
  const std::string& attached() const { return attached_; }

 private:
  struct Impl;
  explicit HostDeny(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string attached_;
};

// Whether host deny works here: attaches the programs to a scratch cgroup v2 directory and
// removes both again. Never fails; the detail says what was tried and why it did not work.
Capability probe_host_deny();

}  // namespace kata_sentry::probes
