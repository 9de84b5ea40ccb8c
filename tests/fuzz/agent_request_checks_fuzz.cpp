// libFuzzer target: the checks the in-guest agent applies to what the host sends
// (agent/service/request_checks.h). The input is parsed as every request type that
// AgentService checks and each parsed message goes through check_request(); the raw bytes also
// go through each field check, since a string from another client need not be valid UTF-8.
// Every verdict is compared with the documented contract, restated here independently of the
// implementation: a check accepts exactly what its header allows, refuses with invalid_argument
// and a bounded message, and never throws.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "agent.pb.h"
#include "agent/service/request_checks.h"
#include "tests/fuzz/fuzz_check.h"

using namespace kata_sentry;
using namespace kata_sentry::agent;

namespace {

// ----- the contracts, from request_checks.h -------------------------------------------------

bool ascii_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64 || s == "." || s == "..") return false;
  for (char c : s)
    if (!(ascii_alnum(c) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

bool is_exec_id(std::string_view s) { return s.empty() || is_id(s); }

bool is_hostname(std::string_view s) {
  if (s.size() > 64) return false;
  for (char c : s)
    if (!(ascii_alnum(c) || c == '.' || c == '-')) return false;
  return true;
}

// A ".." between slashes (or at an end), split by hand rather than by std::filesystem.
bool has_dotdot_segment(std::string_view s) {
  size_t start = 0;
  for (;;) {
    size_t end = s.find('/', start);
    if (s.substr(start, end == std::string_view::npos ? end : end - start) == "..") return true;
    if (end == std::string_view::npos) return false;
    start = end + 1;
  }
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool is_absolute_clean(std::string_view s) { return !s.empty() && s[0] == '/' && !has_dotdot_segment(s) && !has_nul(s); }

bool is_relative_clean(std::string_view s) { return !s.empty() && s[0] != '/' && !has_dotdot_segment(s) && !has_nul(s); }

bool is_signal(int64_t sig) { return sig >= 1 && sig <= 64; }

// ----- verdicts against the contracts ---------------------------------------------------------

// The longest field name in a refusal plus 80 quoted bytes, "..." and the rule it broke.
constexpr size_t kMaxRefusal = 200;

void check_verdict(const Status& s, bool allowed, const char* what, std::string_view value) {
  if (s) {
    FUZZ_CHECK(allowed, "%s accepted %zu bytes that its contract refuses: \"%.*s\"", what, value.size(),
               int(std::min<size_t>(value.size(), 80)), value.data());
    return;
  }
  FUZZ_CHECK(!allowed, "%s refused a value its contract allows: %s", what, s.error().message.c_str());
  FUZZ_CHECK(s.error().code == ErrorCode::invalid_argument, "%s refused with code %d", what, int(s.error().code));
  FUZZ_CHECK(!s.error().message.empty() && s.error().message.size() <= kMaxRefusal,
             "%s refusal of %zu bytes for a %zu-byte value", what, s.error().message.size(), value.size());
}

// Where the agent puts the share and what it confines bundles and root.paths to.
const std::filesystem::path kShared = "/run/kata-sentry/shared";

void check_confined(std::string_view relative) {
  auto p = confined_path(kShared, relative, "bundle");
  check_verdict(p ? Status{} : Status(std::unexpected(p.error())), is_relative_clean(relative), "confined_path",
                relative);
  if (!p) return;
  // Lexically inside the share: the share itself or below it, and nothing climbs back out.
  const std::string& out = p->native();
  const std::string& base = kShared.native();
  FUZZ_CHECK(out.compare(0, base.size(), base) == 0 && (out.size() == base.size() || out[base.size()] == '/'),
             "confined_path(\"%.*s\") = \"%s\" is outside %s", int(relative.size()), relative.data(), out.c_str(),
             base.c_str());
  FUZZ_CHECK(!has_dotdot_segment(out) && !has_nul(out), "confined_path result \"%s\" climbs or holds a NUL",
             out.c_str());
}

// Each field check on arbitrary bytes.
void check_fields(std::string_view s, int32_t sig) {
  check_verdict(check_id("container_id", s), is_id(s), "check_id", s);
  check_verdict(check_exec_id(s), is_exec_id(s), "check_exec_id", s);
  check_verdict(check_hostname(s), is_hostname(s), "check_hostname", s);
  check_verdict(check_absolute_path("shared_dir", s), is_absolute_clean(s), "check_absolute_path", s);
  check_confined(s);
  check_verdict(check_signal(sig), is_signal(sig), "check_signal", std::to_string(sig));
}

// Each request type as AgentService sees it after gRPC parsed it.
template <typename Req, typename Contract>
void check_message(const uint8_t* data, size_t size, const char* type, Contract&& allowed) {
  Req r;
  if (!r.ParseFromArray(data, int(size))) return;
  Status s = check_request(r);
  bool ok = allowed(r);
  if (s.has_value() != ok) std::fprintf(stderr, "%s: %s\n", type, r.ShortDebugString().c_str());
  check_verdict(s, ok, type, {});
}

void check_messages(const uint8_t* data, size_t size) {
  check_message<v1::CreateSandboxRequest>(data, size, "CreateSandboxRequest", [](const auto& r) {
    return is_hostname(r.hostname()) && (r.shared_dir().empty() || is_absolute_clean(r.shared_dir()));
  });
  check_message<v1::CreateContainerRequest>(data, size, "CreateContainerRequest", [](const auto& r) {
    if (!is_id(r.container_id())) return false;
    // What the Sandbox then does with the bundle (agent/service/sandbox.cpp).
    check_confined(r.bundle().empty() ? r.container_id() : r.bundle());
    return true;
  });
  check_message<v1::ContainerRequest>(data, size, "ContainerRequest",
                                      [](const auto& r) { return is_id(r.container_id()); });
  check_message<v1::ExecProcessRequest>(data, size, "ExecProcessRequest", [](const auto& r) {
    return is_id(r.container_id()) && is_id(r.exec_id());
  });
  check_message<v1::ProcessRequest>(data, size, "ProcessRequest", [](const auto& r) {
    return is_id(r.container_id()) && is_exec_id(r.exec_id());
  });
  check_message<v1::SignalProcessRequest>(data, size, "SignalProcessRequest", [](const auto& r) {
    return is_id(r.container_id()) && is_exec_id(r.exec_id()) && is_signal(r.signal());
  });
  check_message<v1::WriteStdinRequest>(data, size, "WriteStdinRequest", [](const auto& r) {
    return is_id(r.container_id()) && is_exec_id(r.exec_id());
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = quiet_protobuf();
  (void)quiet;
  fuzz_no_throw("agent request checks", [&] {
    check_messages(data, size);
    int32_t sig = 0;
    std::memcpy(&sig, data, std::min(size, sizeof sig));
    check_fields(std::string_view(reinterpret_cast<const char*>(data), size), sig);
  });
  return 0;
}
