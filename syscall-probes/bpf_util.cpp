#include "syscall-probes/bpf_util.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <bpf/libbpf.h>

namespace kata_sentry::probes {

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

Result<uint64_t> sum_percpu_counter(const bpf_map* map, uint32_t key, const std::string& what) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return fail(ErrorCode::internal, "count possible CPUs: " + errno_name(-ncpu), -ncpu);
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  if (bpf_map__lookup_elem(map, &key, sizeof key, values.data(), values.size() * sizeof(uint64_t), 0) != 0)
    return fail_errno("read " + what);
  uint64_t total = 0;
  for (uint64_t v : values) total += v;
  return total;
}

Status write_wanted_types(bpf_map* map, const std::bitset<kEventTypeSlots>& wanted, const std::string& what) {
  for (uint32_t type = 0; type < kEventTypeSlots; ++type) {
    uint8_t on = wanted.test(type) ? 1 : 0;
    if (bpf_map__update_elem(map, &type, sizeof type, &on, sizeof on, BPF_ANY) != 0) return fail_errno("update " + what);
  }
  return {};
}

int poll_coalesced(ring_buffer* ring, int timeout_ms) {
  epoll_event ev{};
  int woke = ::epoll_wait(ring_buffer__epoll_fd(ring), &ev, 1, timeout_ms);
  if (woke < 0) return -errno;
  if (woke > 0) ::usleep(kCoalesceMicros);
  return ring_buffer__consume(ring);
}

}  // namespace kata_sentry::probes
