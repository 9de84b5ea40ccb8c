// The guest agent's per-event user-space path, natively, on synthetic ring-buffer records:
// what one event costs the agent between the kernel ring buffer and the gRPC write. It calls
// the same library code the agent runs, in the agent's order (guest_sensor.cpp drain() and
// deliver(), GuestSensor::stream(), sensor_rpc.cpp):
//
//   decode_event → time order of the round → ProcTable update/enrich → EventStream push_all →
//   EventStream take (batches of 256) → GuestBatchEncoder::build → SerializeToString
//
// Not included (so not in the figures): the ring buffer itself, the BPF map lookups the sensor
// makes per round (agent/launcher marks), the container lookup (a map under a mutex), and gRPC's
// HTTP/2 framing and vsock write. The workload is guest_probes_bench's: 4 processes, each
// operation an openat and its lsm/file_open (close is not traced), one exec (with argv/env/cwd) every 2048 operations.
//
// Usage: agent_path_bench [operations [records per drain]]   (default 300000, i.e. ~600000 events; 128)
#include <linux/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "bench/support/bench_figures.h"
#include "core/event_decode.h"
#include "guest-probes/event_stream.h"
#include "guest_wire.h"
#include "kata_sentry/event_abi.h"
#include "syscall-probes/proc_table.h"

namespace ks = kata_sentry;

namespace {

constexpr uint32_t kWorkers = 4;
constexpr uint32_t kLauncherPid = 200;  // the workers' parent (ks-load rate)
constexpr uint32_t kAgentPid = 1;       // the guest's init: the agent
// One drain at ~50-80 K events/s: the ring wakes the reader at 64 KiB queued (53 records of
// 1232 bytes), which then sleeps its 1 ms coalescing window (~1.5 ms under TCG) before draining.
constexpr size_t kDefaultDrainRecords = 128;
constexpr size_t kBatchEvents = 256;    // the host's max_batch_events

void put_string(char* dst, size_t cap, std::string_view s, uint16_t* len) {
  size_t n = std::min(s.size(), cap - 1);
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
  if (len) *len = uint16_t(n + 1);
}

// NUL-separated strings into buf; returns the bytes used.
uint16_t put_strings(char* buf, size_t cap, const std::vector<std::string>& items) {
  size_t off = 0;
  for (const auto& s : items) {
    if (off + s.size() + 1 > cap) break;
    std::memcpy(buf + off, s.c_str(), s.size() + 1);
    off += s.size() + 1;
  }
  return uint16_t(off);
}

ks_event base_record(uint16_t type, uint32_t pid, uint32_t ppid, uint64_t ts) {
  ks_event r{};
  r.hdr.abi_version = KS_EVENT_ABI_VERSION;
  r.hdr.type = type;
  r.hdr.ts_ns = ts;
  r.proc.pid = pid;
  r.proc.tid = pid;
  r.proc.ppid = ppid;
  r.proc.loginuid = UINT32_MAX;
  r.proc.cgroup_id = 4242;
  r.proc.pid_ns = 4026531836u;
  r.proc.mnt_ns = 4026531841u;
  std::memcpy(r.proc.comm, "ks-load", 8);
  r.proc.cap_effective = r.proc.cap_permitted = 0xa80425fb;
  return r;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

std::vector<uint8_t> exec_record(uint32_t pid, uint32_t ppid, uint64_t ts) {
  auto x = std::make_unique<ks_exec_event>();
  std::memset(x.get(), 0, sizeof *x);
  x->ev = base_record(KS_EVT_EXECVE, pid, ppid, ts);
  x->ev.hdr.flags = KS_F_HAS_RES;
  put_string(x->ev.path, KS_PATH_LEN, "/usr/local/bin/ks-load", &x->ev.path_len);
  x->x.args_len = put_strings(x->x.args, KS_EXEC_ARGS_LEN, {"ks-load", "rate", "50625", "5", "4"});
  x->x.env_len = put_strings(x->x.env, KS_EXEC_ENV_LEN,
                             {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=load7",
                              "TERM=xterm", "HOME=/root"});
  x->x.cwd_len = 2;  // "/": no component
  x->x.exe_len = put_strings(x->x.exe, KS_PATH_LEN, {"ks-load", "bin", "local", "usr"});
  return bytes_of(x.get(), sizeof *x);
}

std::vector<uint8_t> openat_record(uint32_t pid, uint64_t ts) {
  auto r = base_record(KS_EVT_OPENAT, pid, kLauncherPid, ts);
  r.hdr.flags = KS_F_HAS_RES;
  r.res = 3;
  r.arg[0] = 5;  // dirfd
  r.arg[1] = 02000000;
  put_string(r.path, KS_PATH_LEN, "null", &r.path_len);
  return bytes_of(&r, sizeof r);
}

std::vector<uint8_t> file_open_record(uint32_t pid, uint64_t ts) {
  auto r = base_record(KS_EVT_LSM_FILE_OPEN, pid, kLauncherPid, ts);
  r.hdr.flags = KS_F_HAS_SYSCALL;
  r.syscall = 257;
  r.arg[0] = 02000000;
  r.file = {.ino = 5, .dev = 5, .rdev = (1u << 20) | 3, .mode = 020666, .nlink = 1, .magic = 0x01021994};
  put_string(r.path, KS_PATH_LEN, "/dev/null", &r.path_len);
  return bytes_of(&r, sizeof r);
}

// Thread CPU time: on a shared, loaded machine wall time would count other processes' turns.
// Read per stage of a whole drain or batch (not per event), so the reads cost next to nothing.
std::chrono::nanoseconds cpu_now() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

struct Stage {
  const char* name;
  std::chrono::nanoseconds spent{};
};

}  // namespace

int main(int argc, char** argv) {
  const long operations = argc > 1 ? std::atol(argv[1]) : 300000;
  const size_t kRoundRecords = argc > 2 ? size_t(std::atol(argv[2])) : kDefaultDrainRecords;
  if (operations <= 0 || kRoundRecords < 3) ks::bench::fail_unmeasured("agent_path_bench", "operations must be > 0, records per drain >= 3");

  // The records of one drain are written into reused buffers before the drain's clock starts:
  // the three kinds (exec, openat, lsm/file_open) from templates, with the pid and time patched.
  struct Record {
    std::vector<uint8_t> bytes;
    size_t size = 0;
  };
  std::vector<Record> drain_records(kRoundRecords);
  for (auto& r : drain_records) r.bytes.resize(sizeof(ks_exec_event));
  const auto exec_template = exec_record(0, kLauncherPid, 0);
  const auto openat_template = openat_record(0, 0);
  const auto file_open_template = file_open_record(0, 0);
  uint64_t ts = 1'000'000'000;
  auto put = [&](size_t slot, const std::vector<uint8_t>& tmpl, uint32_t pid, uint32_t ppid, uint64_t t) {
    auto& r = drain_records[slot];
    std::memcpy(r.bytes.data(), tmpl.data(), tmpl.size());
    r.size = tmpl.size();
    auto* hdr = reinterpret_cast<ks_event*>(r.bytes.data());
    hdr->hdr.ts_ns = t;
    hdr->proc.pid = hdr->proc.tid = pid;
    hdr->proc.ppid = ppid;
  };
  // The processes: the agent (1), the launcher and its workers, each known from its exec.
  std::vector<std::pair<uint32_t, uint32_t>> startup = {{kAgentPid, 0}, {kLauncherPid, kAgentPid}};
  for (uint32_t w = 0; w < kWorkers; ++w) startup.emplace_back(kLauncherPid + 1 + w, kLauncherPid);
  long op = 0;
  // Fills the next drain; returns its record count (0: the run is over).
  auto fill_drain = [&]() -> size_t {
    size_t n = 0;
    while (!startup.empty() && n < kRoundRecords) {
      put(n++, exec_template, startup.front().first, startup.front().second, ts++);
      startup.erase(startup.begin());
    }
    while (op < operations && n + 3 <= kRoundRecords) {
      uint32_t pid = kLauncherPid + 1 + uint32_t(op % kWorkers);
      if (op % 2048 == 2047) put(n++, exec_template, pid, kLauncherPid, ts++);
      put(n++, openat_template, pid, kLauncherPid, ts + 1);  // stamped at sys_enter, before the LSM hook
      put(n++, file_open_template, pid, kLauncherPid, ts);
      ts += 2;
      ++op;
    }
    return n;
  };

  const ks::BootClock clock(0);
  ks::probes::ProcTable processes(16384, "/nonexistent");  // no /proc fallback: every pid is known
  ks::guest_probes::EventStream stream({.queue_capacity = 1u << 20, .rate_per_second = 0, .burst = 0});
  Stage decode{"decode"}, ordering{"time order"}, table{"process table"}, push{"queue push"},
      take{"queue take"}, convert{"to protobuf"}, serialize{"serialize"};
  std::vector<ks::Event> round, outgoing;
  std::vector<uint32_t> order;
  ks::GuestEventBatch batch;
  ks::GuestBatchEncoder encoder;
  std::string wire;
  size_t events = 0, wire_bytes = 0, batches = 0;

  auto send_batches = [&](bool all) {
    for (;;) {
      auto t0 = cpu_now();
      if (!all && stream.counters().queued - stream.counters().sent < kBatchEvents) return;
      batch.events.clear();
      stream.take(batch.events, batch.first_seq, kBatchEvents, std::chrono::milliseconds(0),
                  std::chrono::milliseconds(0));
      auto t1 = cpu_now();
      take.spent += t1 - t0;
      if (batch.events.empty()) return;
      const auto& msg = encoder.build(batch);
      auto t2 = cpu_now();
      convert.spent += t2 - t1;
      wire.clear();
      msg.SerializeToString(&wire);
      serialize.spent += cpu_now() - t2;
      wire_bytes += wire.size();
      events += batch.events.size();
      ++batches;
    }
  };

  size_t records = 0;
  for (;;) {
    size_t n = fill_drain();
    if (n == 0) break;
    records += n;
    auto t0 = cpu_now();
    round.clear();
    for (size_t i = 0; i < n; ++i) {
      auto ev = ks::decode_event(std::span<const uint8_t>(drain_records[i].bytes.data(), drain_records[i].size),
                                 ks::View::guest, clock);
      if (ev) round.push_back(std::move(*ev));
    }
    auto t1 = cpu_now();
    order.resize(round.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return round[a].time_ns < round[b].time_ns; });
    auto t2 = cpu_now();
    outgoing.clear();
    outgoing.reserve(order.size());
    for (uint32_t i : order) {
      auto& ev = round[i];
      if (ev.type != ks::EventType::procexit) processes.update(ev);
      processes.enrich(ev);
      outgoing.push_back(std::move(ev));
    }
    auto t3 = cpu_now();
    stream.push_all(std::move(outgoing));
    outgoing = {};
    auto t4 = cpu_now();
    decode.spent += t1 - t0;
    ordering.spent += t2 - t1;
    table.spent += t3 - t2;
    push.spent += t4 - t3;
    send_batches(false);
  }
  send_batches(true);
  std::chrono::nanoseconds total{};
  for (const Stage* s : {&decode, &ordering, &table, &push, &take, &convert, &serialize}) total += s->spent;

  auto ns = [](std::chrono::nanoseconds d) { return double(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); };
  double per_event = ns(total) / double(events);
  std::printf("agent_path_bench (native, one thread; %zu events from %zu records in drains of %zu, %zu batches of <= %zu)\n",
              events, records, kRoundRecords, batches, kBatchEvents);
  for (const Stage* s : {&decode, &ordering, &table, &push, &take, &convert, &serialize})
    std::printf("  %-14s %7.0f ns/event\n", s->name, ns(s->spent) / double(events));
  std::printf("  total          %7.0f ns/event of CPU: %.2f M events/s on one core\n", per_event, 1e3 / per_event);
  std::printf("  wire           %7.1f bytes/event\n", double(wire_bytes) / double(events));
  if (events != records) ks::bench::fail_unmeasured("agent_path_bench", "not every record came out");
  ks::bench::record_figure("agent_path_ns_per_event", per_event);
  ks::bench::record_figure("agent_path_wire_bytes_per_event", double(wire_bytes) / double(events));
  return 0;
}
