// kill -9 kata-sentryd during a burst of 100 K alerts (guest events relayed as a shim does),
// then start it again: every record a sink had received before the kill (the sinks read only
// acknowledged records) is in the log, `audit verify` passes, and each sink (the alerts file,
// and syslog over TCP to a real rsyslogd) ends with every record of the log, deduplicated by id.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "exporters/log_reader.h"
#include "exporters/verify.h"
#include "tests/exporters/rsyslog_server.h"
#include "tests/support/event_builder.h"
#include "tests/support/sentryd_harness.h"

namespace kata_sentry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::EventBuilder;
using testing::FakeVmm;
using testing::read_text;
using Sentryd = testing::SentrydFixture;

// uuid -> seq of each record in JSON lines (the file sink) or RFC 5424 messages (rsyslog).
std::map<std::string, uint64_t> ids_in(const fs::path& file, bool syslog) {
  std::map<std::string, uint64_t> ids;
  std::istringstream in(read_text(file));
  for (std::string l; std::getline(in, l);) {
    size_t at = syslog ? l.find("] {") : std::string::npos;
    auto j = nlohmann::json::parse(syslog ? (at == std::string::npos ? "" : l.substr(at + 2)) : l, nullptr, false);
    if (!j.is_discarded() && j.contains("uuid")) ids[j["uuid"]] = j["seq"];
  }
  return ids;
}

std::map<std::string, uint64_t> log_ids(const fs::path& dir) {
  std::map<std::string, uint64_t> ids;
  exporters::LogReader r(dir);
  for (auto rec = r.next(); rec && *rec; rec = r.next()) ids[exporters::uuid_text((*rec)->id)] = (*rec)->seq;
  return ids;
}

TEST_F(Sentryd, KillNineMidBurstOfAHundredThousandAlertsLosesNothingAcknowledged) {
  test_support::RsyslogServer rsyslog;
  {
    auto started = rsyslog.start();
    ASSERT_TRUE(started) << started.error().describe();
  }
  write_config("monitor", "host_probes: false\nguest_events_per_second: 10000000\nguest_burst: 100000000\n"
                          "exporters:\n  - name: siem\n    type: syslog\n    transport: tcp\n    address: 127.0.0.1:" +
                              std::to_string(rsyslog.tcp_port()) + "\n    confirm_ms: 300\n    backoff_max_ms: 1000\n");
  start_configured();
  FakeVmm vmm;
  ASSERT_TRUE(register_sandbox("sb-crash", uint32_t(vmm.pid())).ok());
  auto relay = attach("sb-crash", /*heartbeats=*/false);
  ASSERT_EQ(relay->monitor_error.value_or("<none>"), "");

  // 100 K kernel module loads, each its own operation (its own pid): one alert each. Paced at
  // 250 events per 20 ms (about 8 s in all) so that the kill lands while the daemon is still
  // appending, not only while the sinks catch up: unpaced, the relay hands all 100 K over
  // before the exporters have shipped 20 K.
  std::atomic<bool> sending{true};
  std::atomic<uint64_t> sent{0};
  std::thread sender([&] {
    for (uint32_t i = 0; i < 100000 && sending; i += 250) {
      std::vector<Event> batch;
      for (uint32_t k = i; k < i + 250; ++k)
        batch.push_back(EventBuilder().type(EventType::finit_module).name("insmod").pid(1000 + k).guest().container("c1").res(0).build());
      if (!relay->send(std::move(batch), false)) break;
      sent += 250;
      std::this_thread::sleep_for(20ms);
    }
  });
  auto end = std::chrono::steady_clock::now() + 120s;
  while (ids_in(alerts(), false).size() < 20000) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "the burst did not reach 20000 exported alerts: " << read_text(log());
    std::this_thread::sleep_for(50ms);
  }
  const uint64_t sent_at_kill = sent.load();
  ASSERT_EQ(::kill(pid_, SIGKILL), 0);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  sending = false;
  sender.join();
  relay.reset();
  // The file sink reads only acknowledged records: what it holds now was acknowledged.
  const auto acknowledged = ids_in(alerts(), false);
  ASSERT_LT(sent_at_kill, 100000u) << "the burst finished before the kill";
  ASSERT_LT(acknowledged.size(), 100000u) << "the sinks had everything before the kill";

  start_configured();  // recovery; the exporters resume from their cursors
  const fs::path audit = audit_dir();
  std::map<std::string, uint64_t> in_log;
  end = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    in_log = log_ids(audit);
    if (ids_in(alerts(), false) == in_log && ids_in(rsyslog.out(), true) == in_log) break;
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "the sinks did not catch up after the restart";
    std::this_thread::sleep_for(200ms);
  }
  stop();
  in_log = log_ids(audit);  // + the final checkpoint
  for (const auto& [id, seq] : acknowledged) ASSERT_TRUE(in_log.count(id)) << "acknowledged record " << seq << " is not in the log";
  auto report = exporters::verify_log(audit, std::nullopt);
  EXPECT_FALSE(report.problem) << exporters::describe(*report.problem);
  uint64_t file_lines = 0, syslog_lines = 0;
  {
    std::istringstream a(read_text(alerts())), b(read_text(rsyslog.out()));
    for (std::string l; std::getline(a, l);) ++file_lines;
    for (std::string l; std::getline(b, l);) ++syslog_lines;
  }
  std::printf("[sentryd crash] guest events sent %llu (%llu before the kill); alerts acknowledged (exported) before kill -9: %zu; records in the log after "
              "restart: %zu; file sink %llu lines, syslog sink %llu lines (duplicates %llu / %llu)\n",
              static_cast<unsigned long long>(sent.load()), static_cast<unsigned long long>(sent_at_kill), acknowledged.size(), in_log.size(), static_cast<unsigned long long>(file_lines),
              static_cast<unsigned long long>(syslog_lines), static_cast<unsigned long long>(file_lines - ids_in(alerts(), false).size()),
              static_cast<unsigned long long>(syslog_lines - ids_in(rsyslog.out(), true).size()));
}

}  // namespace
}  // namespace kata_sentry
