// libFuzzer target: the YAML rules loader on arbitrary files; what loads is run on a few
// events and its alerts rendered. Nothing may crash, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policy-engine/engine.h"
#include "policy-engine/loader.h"
#include "tests/support/event_builder.h"

using namespace kata_sentry;
using namespace kata_sentry::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Event> events = {
      testing::EventBuilder().exec("/bin/sh", {"-c", "id"}).parent("nginx").container("c1").sandbox("sb").build(),
      testing::EventBuilder().open("/etc/shadow", 1).guest().sandbox("sb").build(),
      testing::EventBuilder().connect("10.1.2.3", 443).vmm(7).sandbox("sb").build(),
  };
  auto r = load_rules({{"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)}});
  for (const auto& d : r.diagnostics.items()) (void)d.to_text();
  if (r.diagnostics.has_errors()) return 0;
  EngineConfig cfg;
  cfg.hostname = "fuzz";
  cfg.sequence_key_cap = 4;
  Engine engine(std::move(r.rules), cfg);
  std::vector<Alert> alerts;
  for (const auto& e : events) engine.process(e, alerts);
  for (const auto& a : alerts) (void)alert_to_json_line(a);
  return 0;
}
