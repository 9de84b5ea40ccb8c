// A ttrpc client: many calls may be outstanding on one connection at once (a reader thread
// routes each response to its caller by stream id). Used by tests and tools that talk to a
// shim the way containerd does.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.h"
#include "runtime/shim/ttrpc/socket.h"
#include "runtime/shim/ttrpc/status.h"

namespace kata_sentry::shim::ttrpc {

class Client {
 public:
  // Connects to "unix:///path" or an abstract address.
  static Result<std::unique_ptr<Client>> connect(const std::string& address);

  explicit Client(UniqueFd fd);
  ~Client();  // closes the connection; pending calls return Unavailable
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request and blocks for its response. Transport failures come back as Unavailable,
  // a server's status error as that status.
  Reply call(const std::string& service, const std::string& method, const std::string& payload,
             int64_t timeout_nano = 0);

  // Sends raw bytes (a hand-made frame) on the connection: for protocol tests.
  Status send_raw(const std::string& bytes);
  // Waits for the response to a stream id the caller chose itself with send_raw().
  Reply await(uint32_t stream_id);

 private:
  struct Pending {
    bool done = false;
    Reply reply;
  };
  void read_loop();
  Pending& slot(uint32_t stream_id);  // mu_ held

  UniqueFd fd_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, Pending> pending_;
  bool closed_ = false;
  std::optional<std::string> close_reason_;
  uint32_t next_stream_ = 1;
  std::thread reader_;
};

}  // namespace kata_sentry::shim::ttrpc
