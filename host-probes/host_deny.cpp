#include "host-probes/host_deny.h"

#include <fcntl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/cgroup2.h"
#include "core/logging.h"
#include "syscall-probes/bpf_util.h"
#include "syscall-probes/libbpf_log.h"
#include "host_deny.skel.h"

namespace kata_sentry::probes {
namespace {

struct SkelDeleter {
  void operator()(host_deny* s) const noexcept { host_deny__destroy(s); }
};
struct LinkDeleter {
  void operator()(bpf_link* l) const noexcept { bpf_link__destroy(l); }
};
struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const noexcept { ring_buffer__free(rb); }
};

}  // namespace

struct HostDeny::Impl {
  // Destroyed bottom-up: ring buffer, links (detach), then the skeleton.
  std::unique_ptr<host_deny, SkelDeleter> skel;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring;
  const RecordFn* on_record = nullptr;  // set only during poll()
  std::mutex set_mu;                    // one writer of the banks at a time

  static int on_ring_record(void* ctx, void* data, size_t size) noexcept {
    auto* self = static_cast<Impl*>(ctx);
    if (!self->on_record) return 0;
    try {
      (*self->on_record)(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
    } catch (...) {
    }
    return 0;
  }

  // Writes `entries` into the idle bank of `map`, then flips `active` to it.
  Status write_bank(bpf_map* map, volatile __u32& active, const std::vector<ks_host_deny_rule>& entries,
                    const char* what) {
    if (entries.size() > KS_HOST_DENY_MAX)
      return fail(ErrorCode::invalid_argument, std::string("host_deny ") + what + ": too many entries");
    uint32_t next_bank = (active & KS_HOST_DENY_BANK_BIT) ? 0 : 1;
    for (uint32_t i = 0; i < entries.size(); ++i) {
      uint32_t key = next_bank * KS_HOST_DENY_MAX + i;
      if (bpf_map__update_elem(map, &key, sizeof key, &entries[i], sizeof entries[i], BPF_ANY) != 0)
        return fail_errno(std::string("update host_deny ") + what);
    }
    __atomic_store_n(&active, (next_bank ? KS_HOST_DENY_BANK_BIT : 0u) | uint32_t(entries.size()), __ATOMIC_SEQ_CST);
    return {};
  }
};

HostDeny::HostDeny(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HostDeny::~HostDeny() = default;

Result<std::unique_ptr<HostDeny>> HostDeny::open(const std::vector<std::string>& cgroup_dirs) {
  install_libbpf_logging();
  if (cgroup_dirs.empty()) return fail(ErrorCode::invalid_argument, "host_deny: no cgroup to attach to");
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(host_deny__open());
  if (!impl->skel) return fail_errno("open host_deny skeleton");
  if (int err = host_deny__load(impl->skel.get()); err != 0)
    return fail(ErrorCode::unavailable, "load host_deny (cgroup programs): " + errno_name(-err), -err);
  auto* skel = impl->skel.get();
  bpf_program* progs[] = {skel->progs.handle_connect4, skel->progs.handle_connect6, skel->progs.handle_sendmsg4,
                          skel->progs.handle_sendmsg6, skel->progs.handle_dev};
  std::string attached;
  for (const auto& dir : cgroup_dirs) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno("open cgroup " + dir);
    for (bpf_program* p : progs) {
      bpf_link* link = bpf_program__attach_cgroup(p, fd);
      if (!link) {
        int err = errno;
        ::close(fd);
        return fail(err == EPERM ? ErrorCode::permission_denied : ErrorCode::unavailable,
                    std::string("attach host_deny ") + bpf_program__section_name(p) + " to " + dir + ": " +
                        errno_name(err),
                    err);
      }
      impl->links.emplace_back(link);
    }
    ::close(fd);  // the links keep the attachment
    attached += (attached.empty() ? "" : ", ") + dir;
  }
  impl->ring.reset(ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_ring_record, impl.get(), nullptr));
  if (!impl->ring) return fail_errno("create ring buffer for host_deny events");
  auto d = std::unique_ptr<HostDeny>(new HostDeny(std::move(impl)));
  d->attached_ = "cgroup/connect4, cgroup/connect6, cgroup/sendmsg4, cgroup/sendmsg6, cgroup/dev on " + attached;
  logger("probes")->info("host deny attached: {}", d->attached_);
  return d;
}

Status HostDeny::set(const CompiledHostDenySet& set) {
  std::lock_guard lock(impl_->set_mu);
  auto* skel = impl_->skel.get();
  if (auto st = impl_->write_bank(skel->maps.connect_rules_map, skel->bss->connect_active, set.connect, "connect_rules_map"); !st)
    return st;
  return impl_->write_bank(skel->maps.device_rules_map, skel->bss->device_active, set.device, "device_rules_map");
}

Result<int> HostDeny::poll(int timeout_ms, const RecordFn& on_record) {
  impl_->on_record = &on_record;
  int n = ring_buffer__poll(impl_->ring.get(), timeout_ms);
  impl_->on_record = nullptr;
  if (n == -EINTR) return 0;
  if (n < 0) return fail(ErrorCode::io, "poll host_deny ring buffer: " + errno_name(-n), -n);
  return n;
}

Result<HostDeny::Stats> HostDeny::stats() const {
  auto denied = sum_percpu_counter(impl_->skel->maps.stats_map, KS_STAT_DENIED, "host_deny stats_map");
  if (!denied) return std::unexpected(denied.error());
  auto drops = sum_percpu_counter(impl_->skel->maps.stats_map, KS_STAT_RINGBUF_DROPS, "host_deny stats_map");
  if (!drops) return std::unexpected(drops.error());
  return Stats{.denied = *denied, .ringbuf_drops = *drops};
}

Capability probe_host_deny() {
  auto cg = CgroupDir::create("kata-sentry-check-" + std::to_string(::getpid()));
  if (!cg) return {false, "no scratch cgroup v2 directory: " + cg.error().describe()};
  auto deny = HostDeny::open({(*cg)->path()});
  if (!deny) return {false, deny.error().describe()};
  return {true, "cgroup/connect4, connect6, sendmsg4, sendmsg6 and dev attach to cgroup v2 directories"};
}

}  // namespace kata_sentry::probes
