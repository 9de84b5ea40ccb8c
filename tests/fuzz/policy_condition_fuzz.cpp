// libFuzzer target: the condition parser and compiler on arbitrary text, then evaluation of
// whatever compiles on a few events. Nothing may crash, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policy-engine/compile.h"
#include "policy-engine/condition.h"
#include "tests/support/event_builder.h"

using namespace kata_sentry;
using namespace kata_sentry::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> list = {"sh", "bash", "10.0.0.0/8", "1"};
  static const AstPtr macro = parse_condition("proc.name = sh and evt.type = execve", {}).ast;
  static const std::vector<Event> events = {
      testing::EventBuilder().exec("/bin/sh", {"-c", "id"}).parent("nginx").container("c1").build(),
      testing::EventBuilder().open("/etc/shadow", 1).guest().sandbox("sb").build(),
      testing::EventBuilder().connect("10.1.2.3", 443).vmm(7).build(),
  };
  ParseContext ctx;
  ctx.find_list = [](std::string_view n) -> const std::vector<std::string>* { return n == "l" ? &list : nullptr; };
  ctx.find_macro = [](std::string_view n) -> AstPtr { return n == "m" ? macro : nullptr; };
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_condition(text, ctx);
  if (!parsed.ast) return 0;
  (void)condition_types(*parsed.ast);
  auto node = compile_condition(*parsed.ast, condition_types(*parsed.ast));
  if (!node) return 0;
  for (const auto& e : events) (void)(*node)->eval(EvalInput{&e, nullptr});
  return 0;
}
