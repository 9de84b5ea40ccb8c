#include "runtime/vm/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <utility>

namespace kata_sentry::vm {

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

QmpClient::QmpClient(QmpClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), buffer_(std::move(o.buffer_)), timeout_(o.timeout_) {}

QmpClient& QmpClient::operator=(QmpClient&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    buffer_ = std::move(o.buffer_);
    timeout_ = o.timeout_;
  }
  return *this;
}

Result<QmpClient> QmpClient::connect(const std::filesystem::path& socket_path, std::chrono::milliseconds timeout) {
  QmpClient c;
  c.path_ = socket_path.string();
  c.timeout_ = timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (c.path_.size() >= sizeof addr.sun_path) return fail(ErrorCode::invalid_argument, "qmp " + c.path_ + ": path too long");
  std::strcpy(addr.sun_path, c.path_.c_str());
  c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) return fail_errno("qmp " + c.path_ + ": socket");
  if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail_errno("qmp " + c.path_ + ": connect");
  auto greeting = c.read_message();
  if (!greeting) return std::unexpected(greeting.error());
  if (!greeting->contains("QMP")) return fail(ErrorCode::protocol, "qmp " + c.path_ + ": no greeting");
  if (auto caps = c.execute("qmp_capabilities"); !caps) return std::unexpected(caps.error());
  return c;
}

Result<nlohmann::json> QmpClient::read_message() {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::protocol, "qmp " + path_ + ": malformed message");
      return j;
    }
    if (buffer_.size() > (1 << 20)) return fail(ErrorCode::protocol, "qmp " + path_ + ": message larger than 1 MiB");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail(ErrorCode::timeout, "qmp " + path_ + ": no reply within " + std::to_string(timeout_.count()) + " ms");
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("qmp " + path_ + ": poll");
    if (r == 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("qmp " + path_ + ": read");
    if (n == 0) return fail(ErrorCode::unavailable, "qmp " + path_ + ": connection closed (qemu exited?)");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Result<nlohmann::json> QmpClient::execute(const std::string& command, const nlohmann::json& arguments) {
  if (fd_ < 0) return fail(ErrorCode::unavailable, "qmp " + command + ": not connected");
  nlohmann::json request = {{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  std::string text = request.dump() + "\n";
  if (::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
    return fail_errno("qmp " + path_ + ": send " + command);
  }
  for (;;) {
    auto msg = read_message();
    if (!msg) return std::unexpected(msg.error());
    if (msg->contains("event")) continue;
    if (msg->contains("error")) {
      return fail(ErrorCode::protocol, "qmp " + command + ": " + (*msg)["error"].value("desc", std::string("error")));
    }
    if (msg->contains("return")) return (*msg)["return"];
  }
}

Result<std::string> QmpClient::query_status() {
  auto r = execute("query-status");
  if (!r) return std::unexpected(r.error());
  if (!r->contains("status") || !(*r)["status"].is_string()) return fail(ErrorCode::protocol, "qmp query-status: no status");
  return (*r)["status"].get<std::string>();
}

Status QmpClient::stop() {
  if (auto r = execute("stop"); !r) return std::unexpected(r.error());
  return {};
}

Status QmpClient::cont() {
  if (auto r = execute("cont"); !r) return std::unexpected(r.error());
  return {};
}

Status QmpClient::quit() {
  auto r = execute("quit");
  // QEMU may close the socket before its reply is read: that is the quit working.
  if (!r && r.error().code != ErrorCode::unavailable) return std::unexpected(r.error());
  return {};
}

}  // namespace kata_sentry::vm
