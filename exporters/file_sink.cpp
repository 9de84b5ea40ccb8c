#include "exporters/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/terminal_text.h"

namespace kata_sentry::exporters {
namespace fs = std::filesystem;

Result<std::unique_ptr<FileSink>> FileSink::open(FileSinkOptions options) {
  std::unique_ptr<FileSink> s(new FileSink(std::move(options)));
  std::error_code ec;
  fs::path parent = fs::path(s->options_.path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (auto st = s->reopen(); !st) return std::unexpected(st.error());
  return s;
}

Status FileSink::reopen() {
  fd_ = UniqueFd(::open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, options_.mode));
  if (!fd_) return fail_errno("open " + options_.path);
  ::fchmod(fd_.get(), options_.mode);
  struct stat st{};
  if (::fstat(fd_.get(), &st) != 0) return fail_errno("stat " + options_.path);
  size_ = static_cast<uint64_t>(st.st_size);
  // A line a crash cut short is ended, so that the next record starts a line of its own (the
  // cut record is sent again: its cursor never moved past it).
  char last = '\n';
  if (size_ > 0 && ::pread(fd_.get(), &last, 1, static_cast<off_t>(size_ - 1)) == 1 && last != '\n') {
    if (::write(fd_.get(), "\n", 1) != 1) return fail_errno("write " + options_.path);
    ++size_;
  }
  return {};
}

Status FileSink::rotate() {
  if (::fdatasync(fd_.get()) != 0) return fail_errno("fdatasync " + options_.path);
  std::error_code ec;
  for (uint32_t i = options_.keep; i >= 1; --i) {
    std::string from = i == 1 ? options_.path : options_.path + "." + std::to_string(i - 1);
    std::string to = options_.path + "." + std::to_string(i);
    if (fs::exists(from)) fs::rename(from, to, ec);
    if (ec) return fail(ErrorCode::io, "rotate " + from + " -> " + to + ": " + ec.message());
  }
  if (options_.keep == 0) fs::remove(options_.path, ec);
  return reopen();
}

Result<size_t> FileSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    if (!fd_)
      if (auto st = reopen(); !st) return std::unexpected(st.error());
    std::string out;
    size_t n = 0;
    auto flush = [&]() -> Status {
      size_t done = 0;
      while (done < out.size()) {
        ssize_t w = ::write(fd_.get(), out.data() + done, out.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return fail_errno("write " + options_.path);
        done += static_cast<size_t>(w);
      }
      size_ += out.size();
      out.clear();
      return {};
    };
    size_t acked = 0;
    for (const auto& r : batch) {
      std::string line = json_line(r) + "\n";
      if (options_.max_bytes && size_ + out.size() + line.size() > options_.max_bytes && size_ + out.size() > 0) {
        if (auto st = flush(); !st) return acked ? Result<size_t>(acked) : std::unexpected(st.error());
        if (auto st = rotate(); !st) return acked ? Result<size_t>(acked) : std::unexpected(st.error());
        acked = n;
      }
      out += line;
      ++n;
    }
    if (auto st = flush(); !st) {
      fd_.reset();
      return acked ? Result<size_t>(acked) : std::unexpected(st.error());
    }
    if (::fdatasync(fd_.get()) != 0) {
      fd_.reset();
      return acked ? Result<size_t>(acked) : fail_errno("fdatasync " + options_.path);
    }
    return n;
  } catch (...) {
    return fail(ErrorCode::internal, "file sink " + options_.path + ": out of memory");
  }
}

std::string console_line(const ExportRecord& r) {
  std::string line;
  switch (r.kind) {
    case RecordKind::alert: {
      line = "kata-sentry: ALERT " + doc_string(r, "priority") + " [" + doc_string(r, "rule") + "] " + doc_string(r, "view") +
             " sandbox=" + doc_string(r, "sandbox");
      std::string action = doc_string(r, "action");
      bool enforced = r.doc.value("enforced", false);
      if (!action.empty() && action != "alert") {
        line += " action=" + action + (enforced ? " (enforced)" : " (not enforced)");
      } else if (enforced) {
        line += " (blocked in-kernel)";  // an alert-only rule matched an operation a deny rule refused
      }
      // Falco's output starts with the time and priority; the terminal line has them already.
      std::string output = doc_string(r, "output");
      std::string prefix = doc_string(r, "priority") + " ";
      if (auto at = output.find(": " + prefix); at != std::string::npos && at < 40) output = output.substr(at + 2 + prefix.size());
      line += ": " + output;
      break;
    }
    case RecordKind::audit: {
      bool ok = r.doc.value("ok", true);
      std::string rule = doc_string(r, "rule");
      std::string action = doc_string(r, "action");
      line = "kata-sentry: AUDIT " + (action.empty() ? doc_string(r, "component") : action) + (ok ? "" : " FAILED") +
             (rule.empty() ? "" : " [" + rule + "]") + " sandbox=" + doc_string(r, "sandbox") + ": " + doc_string(r, "detail");
      break;
    }
    case RecordKind::checkpoint:
      line = "kata-sentry: CHECKPOINT seq " + doc_string(r, "covers_seq") + " head " + doc_string(r, "head");
      break;
    case RecordKind::event:
      line = "kata-sentry: EVENT " + json_line(r);
      break;
  }
  return terminal_safe(line);
}

Result<size_t> ConsoleSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    std::string out;
    for (const auto& r : batch)
      if (r.kind != RecordKind::checkpoint) out += console_line(r) + "\n";  // checkpoints mean nothing on a terminal
    if (!out.empty() && std::fwrite(out.data(), 1, out.size(), stderr) != out.size())
      return fail(ErrorCode::io, "write to stderr failed");
    std::fflush(stderr);
    return batch.size();
  } catch (...) {
    return fail(ErrorCode::internal, "console sink: out of memory");
  }
}

}  // namespace kata_sentry::exporters
