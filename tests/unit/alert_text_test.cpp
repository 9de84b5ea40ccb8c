// The alert text path end to end: a rule's output template renders a guest file name holding
// an OSC escape; the record goes through the audit log's JSON, and the console exporter's
// stderr form (what `kata-sentry run` prints without --alerts) shows it escaped.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <string>
#include <vector>

#include "policy-engine/engine.h"
#include "policy-engine/loader.h"
#include "exporters/file_sink.h"
#include "monitor/audit_record.h"
#include "tests/support/event_builder.h"

namespace kata_sentry::monitor {
namespace {

using kata_sentry::testing::EventBuilder;

constexpr const char* kRules = R"yaml(
- rule: Write below tmp
  desc: a file opened for writing under /tmp
  condition: evt.type = openat and fd.name startswith /tmp/
  output: "File written (file=%fd.name proc=%proc.name container=%container.id)"
  priority: WARNING
)yaml";

// Runs `write` with fd 2 captured and returns what it printed.
template <typename F>
std::string stderr_of(F write) {
  ::testing::internal::CaptureStderr();
  write();
  return ::testing::internal::GetCapturedStderr();
}

void expect_no_control_bytes(const std::string& printed) {
  ASSERT_FALSE(printed.empty());
  EXPECT_EQ(printed.back(), '\n');
  for (size_t i = 0; i + 1 < printed.size(); ++i)
    EXPECT_GE(static_cast<unsigned char>(printed[i]), 0x20) << "byte " << i << " of: " << printed;
}

TEST(AlertText, GuestFileNameWithAnOscSequenceIsPrintedEscaped) {
  auto loaded = policy::load_rules({{"test.yaml", kRules}});
  ASSERT_FALSE(loaded.diagnostics.has_errors());
  policy::Engine engine(std::move(loaded.rules), {});
  Event ev = EventBuilder().open("/tmp/\x1b]0;pwned\x07\r\xff" "café", O_WRONLY | O_CREAT).name("sh\b\b").guest().container("c1").build();
  std::vector<policy::Alert> alerts;
  engine.process(ev, alerts);
  ASSERT_EQ(alerts.size(), 1u);
  alerts[0].sandbox = "sb1";

  // As the log stores it (JSON: a byte that is not UTF-8 becomes U+FFFD) and the console sink prints it.
  auto as_logged = [](exporters::RecordKind kind, std::string json) {
    exporters::Record r;
    r.kind = kind;
    r.seq = 1;
    r.payload = std::move(json);
    return *exporters::to_export_record(r);
  };
  exporters::ConsoleSink console;
  std::vector<exporters::ExportRecord> batch{as_logged(exporters::RecordKind::alert, policy::alert_to_json_line(alerts[0]))};
  std::string printed = stderr_of([&] { EXPECT_TRUE(console.deliver(batch)); });
  EXPECT_NE(printed.find("kata-sentry: ALERT Warning [Write below tmp] guest sandbox=sb1: "
                         "File written (file=/tmp/\\x1b]0;pwned\\x07\\x0d\xef\xbf\xbd" "café proc=sh\\x08\\x08 container=c1)"),
            std::string::npos)
      << printed;
  expect_no_control_bytes(printed);

  // Audit details quote guest events too.
  AuditRecord rec;
  rec.rule = alerts[0].rule;
  rec.sandbox_id = "sb1";
  rec.detail = "denied in-kernel by guest LSM (EPERM): openat /tmp/\x1b]0;pwned\x07";
  batch = {as_logged(exporters::RecordKind::audit, audit_to_json_line(rec, "host"))};
  printed = stderr_of([&] { EXPECT_TRUE(console.deliver(batch)); });
  EXPECT_NE(printed.find("(EPERM): openat /tmp/\\x1b]0;pwned\\x07"), std::string::npos) << printed;
  expect_no_control_bytes(printed);

  // JSON is not the terminal's form: the alert's own strings are untouched and the JSON
  // encoder escapes them in its own way.
  EXPECT_NE(alerts[0].output.find("/tmp/\x1b]0;pwned\x07"), std::string::npos);
}

}  // namespace
}  // namespace kata_sentry::monitor
