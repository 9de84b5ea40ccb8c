#include "exporters/cursor_file.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/read_file.h"
#include "core/unique_fd.h"

namespace kata_sentry::exporters {
namespace fs = std::filesystem;
namespace {

Result<uint64_t> parse_cursor(const std::string& text, const std::string& path) {
  if (!text.starts_with("acked ")) return fail(ErrorCode::protocol, "cursor " + path + ": not a cursor file");
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(text.substr(6), &used);
  } catch (...) {
    return fail(ErrorCode::protocol, "cursor " + path + ": not a number");
  }
  return v;
}

}  // namespace

bool valid_sink_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || n[0] == '.') return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

Result<uint64_t> read_cursor(const fs::path& log_dir, const std::string& sink) {
  fs::path p = log_dir / "cursors" / sink;
  if (!fs::exists(p)) return 0;
  auto text = read_small_file(p.string(), 4096);
  if (!text) return fail_errno("read cursor " + p.string());
  return parse_cursor(*text, p.string());
}

Status write_cursor(const fs::path& log_dir, const std::string& sink, uint64_t acked) {
  fs::path dir = log_dir / "cursors";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path tmp = dir / ("." + sink + ".tmp");
  fs::path dst = dir / sink;
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("write cursor " + tmp.string());
  std::string line = "acked " + std::to_string(acked) + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fdatasync(fd.get()) != 0)
    return fail_errno("write cursor " + tmp.string());
  if (::rename(tmp.c_str(), dst.c_str()) != 0) return fail_errno("rename cursor to " + dst.string());
  return {};
}

std::vector<CursorFile> read_cursors(const fs::path& log_dir) {
  std::vector<CursorFile> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(log_dir / "cursors", ec)) {
    std::string name = e.path().filename().string();
    if (!valid_sink_name(name)) continue;
    auto v = read_cursor(log_dir, name);
    if (v) out.push_back({name, e.path().string(), *v});
  }
  return out;
}

}  // namespace kata_sentry::exporters
