#include "host-probes/host_event_reader.h"

namespace kata_sentry::probes {

HostEventReader::HostEventReader(std::unique_ptr<SyscallProbes> probes, size_t capacity)
    : probes_(std::move(probes)), processes_(capacity) {}

Result<std::unique_ptr<HostEventReader>> HostEventReader::open(const HostEventReaderOptions& options) {
  // libbpf resolves tracepoint ids through tracefs, which not every host has mounted.
  if (auto tf = ensure_tracefs(); !tf) return std::unexpected(tf.error());
  auto probes = SyscallProbes::open(options.probes);
  if (!probes) return std::unexpected(probes.error());
  std::unique_ptr<HostEventReader> r(new HostEventReader(std::move(*probes), options.process_capacity));
  if (options.seed_processes) r->processes_.seed();
  return r;
}

Result<int> HostEventReader::poll(int timeout_ms, const std::function<void(Event&&)>& on_event) {
  return probes_->poll(timeout_ms, [&](std::span<const uint8_t> record) {
    ++stats_.records;
    auto ev = decode_event(record, View::host, clock_);
    if (!ev) {
      ++stats_.decode_errors;
      return;
    }
    // An exit takes the process out of the table: describe it from the table first. Any other
    // event (exec above all) changes the process before it is described.
    if (ev->type == EventType::procexit) {
      processes_.enrich(*ev);
      processes_.update(*ev);
    } else {
      processes_.update(*ev);
      processes_.enrich(*ev);
    }
    on_event(std::move(*ev));
  });
}

}  // namespace kata_sentry::probes
