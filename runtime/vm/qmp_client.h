// A small QMP client (QEMU Machine Protocol, JSON lines over the -mon control socket): the
// greeting, qmp_capabilities, then one command at a time. Asynchronous events that arrive
// before a reply are skipped. Every read has a deadline, so a wedged QEMU cannot hang us.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace kata_sentry::vm {

class QmpClient {
 public:
  // Connects and negotiates capabilities. Fails: "qmp <socket>: connect: ECONNREFUSED", or a
  // timeout if QEMU does not greet.
  static Result<QmpClient> connect(const std::filesystem::path& socket, std::chrono::milliseconds timeout);
  QmpClient() = default;
  ~QmpClient();
  QmpClient(QmpClient&& other) noexcept;
  QmpClient& operator=(QmpClient&& other) noexcept;

  // Runs a command; returns its "return" member. QMP errors become ErrorCode::protocol with
  // QEMU's description.
  Result<nlohmann::json> execute(const std::string& command, const nlohmann::json& arguments = nullptr);
  // "running", "paused", "shutdown", ... from query-status.
  Result<std::string> query_status();
  Status stop();  // pauses the vCPUs
  Status cont();
  // Asks QEMU to exit; the connection then closes (no reply is guaranteed).
  Status quit();

 private:
  Result<nlohmann::json> read_message();

  int fd_ = -1;
  std::string path_;
  std::string buffer_;
  std::chrono::milliseconds timeout_{5000};
};

}  // namespace kata_sentry::vm
