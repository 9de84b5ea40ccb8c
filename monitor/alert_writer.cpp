#include "monitor/alert_writer.h"

#include <unistd.h>

#include <cerrno>

#include "core/event_json.h"
#include "core/terminal_text.h"

namespace kata_sentry::monitor {
namespace {

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

nlohmann::ordered_json audit_to_json(const AuditRecord& r, const std::string& hostname) {
  nlohmann::ordered_json j;
  j["audit"] = true;
  j["time"] = format_rfc3339_ns(r.time_ns);
  j["hostname"] = hostname;
  j["rule"] = r.rule;
  j["sandbox"] = r.sandbox_id;
  j["sandbox_name"] = r.sandbox_name;
  j["view"] = view_name(r.view);
  j["action"] = policy::action_name(r.action);
  j["ok"] = r.ok;
  j["detail"] = r.detail;
  return j;
}

std::string audit_to_json_line(const AuditRecord& r, const std::string& hostname) {
  return audit_to_json(r, hostname).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AlertWriter::AlertWriter() : hostname_(local_hostname()) {}
AlertWriter::AlertWriter(FILE* file) : file_(file), hostname_(local_hostname()) {}

Result<std::unique_ptr<AlertWriter>> AlertWriter::open_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) return fail_errno("open alerts file " + path);
  return std::unique_ptr<AlertWriter>(new AlertWriter(f));
}

AlertWriter::~AlertWriter() {
  if (file_) std::fclose(file_);
}

void AlertWriter::write_line(const std::string& line) noexcept {
  std::lock_guard lock(mu_);
  FILE* out = file_ ? file_ : stderr;
  // One line per record, flushed at once: a reader tailing the file (or a test) sees each alert
  // as it happens, and a crash loses at most the line being written.
  if (std::fputs(line.c_str(), out) < 0 || std::fputc('\n', out) < 0 || std::fflush(out) != 0) ++write_errors_;
}

void AlertWriter::alert(const policy::Alert& a) noexcept {
  try {
    if (file_) {
      write_line(policy::alert_to_json_line(a));
      return;
    }
    std::string line = "kata-sentry: ALERT " + std::string(policy::priority_name(a.priority)) + " [" + a.rule + "] " +
                       std::string(view_name(a.view)) + " sandbox=" + a.sandbox;
    if (a.action != policy::Action::alert) {
      line += " action=" + std::string(policy::action_name(a.action)) + (a.enforced ? " (enforced)" : " (not enforced)");
    } else if (a.enforced) {
      line += " (blocked in-kernel)";  // an alert-only rule matched an operation a deny rule refused
    }
    write_line(terminal_safe(line + ": " + a.output));
  } catch (...) {
    std::lock_guard lock(mu_);
    ++write_errors_;
  }
}

void AlertWriter::audit(const AuditRecord& r) noexcept {
  try {
    if (file_) {
      write_line(audit_to_json_line(r, hostname_));
      return;
    }
    write_line(terminal_safe("kata-sentry: AUDIT " + std::string(policy::action_name(r.action)) + (r.ok ? "" : " FAILED") +
                             (r.rule.empty() ? "" : " [" + r.rule + "]") + " sandbox=" + r.sandbox_id + ": " + r.detail));
  } catch (...) {
    std::lock_guard lock(mu_);
    ++write_errors_;
  }
}

uint64_t AlertWriter::write_errors() const {
  std::lock_guard lock(mu_);
  return write_errors_;
}

}  // namespace kata_sentry::monitor
