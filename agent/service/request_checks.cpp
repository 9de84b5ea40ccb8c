#include "agent/service/request_checks.h"

#include <string>

#include "agent.pb.h"

namespace kata_sentry::agent {
namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool has_dotdot(const std::filesystem::path& p) {
  for (const auto& part : p)
    if (part == "..") return true;
  return false;
}

bool hostname_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

// Every process-addressed request has the same two ids.
template <typename Req>
Status check_process(const Req& r) {
  if (auto s = check_id("container_id", r.container_id()); !s) return s;
  return check_exec_id(r.exec_id());
}

std::string quoted(std::string_view s) {
  // Bounded, so that a huge bogus name cannot bloat the error.
  std::string out = "\"";
  out.append(s.substr(0, 80));
  if (s.size() > 80) out += "...";
  return out + "\"";
}

}  // namespace

Status check_id(std::string_view what, std::string_view id) {
  bool ok = !id.empty() && id.size() <= 64 && id != "." && id != "..";
  for (char c : id) ok = ok && id_char(c);
  if (!ok)
    return fail(ErrorCode::invalid_argument,
                std::string(what) + " " + quoted(id) + ": must match [A-Za-z0-9_.-]{1,64}");
  return {};
}

Status check_exec_id(std::string_view id) {
  if (id.empty()) return {};
  return check_id("exec_id", id);
}

Result<std::filesystem::path> confined_path(const std::filesystem::path& base,
                                            std::string_view relative, std::string_view what) {
  std::filesystem::path rel(relative);
  if (relative.empty() || rel.is_absolute() || has_dotdot(rel) ||
      relative.find('\0') != std::string_view::npos)
    return fail(ErrorCode::invalid_argument,
                std::string(what) + " " + quoted(relative) +
                    ": must be a relative path without \"..\"");
  return (base / rel).lexically_normal();
}

Status check_absolute_path(std::string_view what, std::string_view path) {
  std::filesystem::path p(path);
  if (!p.is_absolute() || has_dotdot(p) || path.find('\0') != std::string_view::npos)
    return fail(ErrorCode::invalid_argument,
                std::string(what) + " " + quoted(path) + ": must be an absolute path without \"..\"");
  return {};
}

Status check_signal(int sig) {
  if (sig < 1 || sig > 64)
    return fail(ErrorCode::invalid_argument,
                "signal " + std::to_string(sig) + ": must be between 1 and 64");
  return {};
}

Status check_hostname(std::string_view h) {
  bool ok = h.size() <= 64;
  for (char c : h) ok = ok && hostname_char(c);
  if (!ok) return fail(ErrorCode::invalid_argument, "hostname: must match [A-Za-z0-9.-]{0,64}");
  return {};
}

Status check_request(const v1::CreateSandboxRequest& r) {
  if (auto s = check_hostname(r.hostname()); !s) return s;
  if (r.shared_dir().empty()) return {};
  return check_absolute_path("shared_dir", r.shared_dir());
}

Status check_request(const v1::CreateContainerRequest& r) { return check_id("container_id", r.container_id()); }

Status check_request(const v1::ContainerRequest& r) { return check_id("container_id", r.container_id()); }

Status check_request(const v1::ExecProcessRequest& r) {
  if (auto s = check_id("container_id", r.container_id()); !s) return s;
  return check_id("exec_id", r.exec_id());
}

Status check_request(const v1::ProcessRequest& r) { return check_process(r); }

Status check_request(const v1::SignalProcessRequest& r) {
  if (auto s = check_process(r); !s) return s;
  return check_signal(r.signal());
}

Status check_request(const v1::WriteStdinRequest& r) { return check_process(r); }

}  // namespace kata_sentry::agent
