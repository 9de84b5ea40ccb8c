// Every figure `make bench` reports, with the goal it is held to (issue 15's table). A figure
// with no benchmark recording it yet shows as "not measured": the table never hides a gap.
#pragma once

#include <limits>
#include <string_view>

namespace kata_sentry::bench {

inline constexpr double kNoGoal = std::numeric_limits<double>::quiet_NaN();

struct Goal {
  std::string_view id;     // what record_figure() is called with
  std::string_view what;   // the row's label
  std::string_view unit;
  bool at_most;            // true: value <= target meets the goal; false: value >= target
  double target;           // NaN: no goal, the figure is reported for comparison
  std::string_view bench;  // the benchmark that measures it
};

inline constexpr Goal kGoals[] = {
    {"latency_p50_ms", "guest syscall -> host alert, p50 (TCG)", "ms", true, 5, "joined_bench"},
    {"latency_p99_ms", "guest syscall -> host alert, p99 (TCG)", "ms", true, 20, "joined_bench"},
    {"latency_syscall_rule_p50_ms", "... a rule on the syscall record only (Falco's style), p50", "ms", true, kNoGoal, "joined_bench"},
    {"latency_syscall_rule_p99_ms", "... a rule on the syscall record only (Falco's style), p99", "ms", true, kNoGoal, "joined_bench"},
    {"guest_open_close_ratio_unwanted", "guest open+close, probes on/off, no rule wants open", "x", true, 1.5,
     "guest_probes_bench"},
    // The goal for "a process no rule can match" holds whether types or paths rule it out.
    {"guest_open_close_ratio_path_unwanted", "guest open+close, probes on/off, open wanted but no rule's path matches",
     "x", true, 1.5, "guest_probes_bench"},
    {"guest_open_close_ratio_traced", "guest open+close, probes on/off, traced", "x", true, 2.0, "guest_probes_bench"},
    {"guest_events_zero_drop_per_s", "guest -> host events/s with zero drops", "ev/s", false, 50'000,
     "guest_probes_bench"},
    {"agent_path_ns_per_event", "agent per-event path, native (decode -> wire)", "ns", true, kNoGoal,
     "agent_path_bench"},
    {"agent_path_wire_bytes_per_event", "  ... guest batch wire bytes per event", "B", true, kNoGoal, "agent_path_bench"},
    {"host_ratio_scoped_away", "host open+close, attached but scoped away", "x", true, 1.05, "host_probes_bench"},
    {"host_ratio_traced", "host open+close, traced and consumed", "x", true, 1.3, "host_probes_bench"},
    // Issue 15, in-kernel filtering: a watched process whose events no loaded rule wants (never:
    // their programs are not attached; after a reload: they are, and the type filter returns
    // first). The host goal is the scoped-away one.
    {"host_ratio_unwanted", "host open+close, watched, open unwanted after a reload", "x", true, 1.05, "host_probes_bench"},
    {"host_ratio_never_wanted", "host open+close, watched, no rule wants open", "x", true, 1.05, "host_probes_bench"},
    {"host_ratio_path_unwanted", "host open+close, watched, open wanted but no rule's path matches", "x", true, 1.05,
     "host_probes_bench"},
    {"engine_realistic_mev_per_s", "engine, Falco stable + ours, realistic mix", "M ev/s", false, 5.0,
     "policy_engine_bench"},
    {"decode_json_m_per_s", "decode + JSON line", "M/s", false, 1.0, "host_probes_bench"},
    {"run_true_container_started_s", "kata-sentry run -- true: container started", "s", true, 3.0, "vm_run_bench"},
    {"run_true_torn_down_s", "kata-sentry run -- true: sandbox torn down", "s", true, 3.0, "vm_run_bench"},
    {"run_true_whole_s", "kata-sentry run -- true: whole process", "s", true, 3.0, "vm_run_bench"},
    {"run_true_vs_runsc_ratio", "  ... vs runsc do /bin/true (wall)", "x", true, kNoGoal, "vm_run_bench"},
    {"qemu_pss_mib", "QEMU PSS per sandbox", "MiB", true, 100, "vm_run_bench"},
    {"agent_rss_mib", "agent RSS in the guest", "MiB", true, 10, "vm_run_bench"},
    // Issue 12: the audit log and the exporters.
    {"audit_append_group_commit_per_s", "audit log append, group commit (interval:20)", "rec/s", false, 200'000,
     "exporters_bench"},
    {"audit_append_fsync_always_per_s", "audit log append, fsync: always (1 appender)", "rec/s", false, kNoGoal,
     "exporters_bench"},
    {"audit_group_commit_disk_share", "  ... group commit MB/s / the disk's sequential MB/s", "x", false, kNoGoal,
     "exporters_bench"},
    {"export_file_per_s", "export: JSON-lines file", "rec/s", false, kNoGoal, "exporters_bench"},
    {"export_syslog_per_s", "export: rsyslogd (TCP, CEF)", "rec/s", false, kNoGoal, "exporters_bench"},
    {"export_nats_per_s", "export: nats-server -js", "rec/s", false, kNoGoal, "exporters_bench"},
    {"export_kafka_per_s", "export: Kafka (librdkafka mock cluster)", "rec/s", false, kNoGoal, "exporters_bench"},
    {"export_elasticsearch_per_s", "export: Elasticsearch _bulk (local server)", "rec/s", false, kNoGoal,
     "exporters_bench"},
    {"export_rsyslog_latency_p50_ms", "alert -> rsyslog file, p50", "ms", true, kNoGoal, "exporters_bench"},
    {"export_rsyslog_latency_p99_ms", "alert -> rsyslog file, p99", "ms", true, kNoGoal, "exporters_bench"},
    {"export_engine_ratio_wall", "engine with all sinks on / off (events per wall s)", "x", false, 0.95, "exporters_bench"},
    {"export_engine_ratio_cpu", "engine with all sinks on / off (events per engine CPU s)", "x", false, 0.95,
     "exporters_bench"},
};

}  // namespace kata_sentry::bench
