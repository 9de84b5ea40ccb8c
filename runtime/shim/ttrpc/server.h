// A ttrpc server: accepts connections on a listening unix socket and dispatches each request
// ("service/method") to a registered handler. Every request runs on its own worker thread,
// because containerd's Wait blocks until a process exits while State, Kill and the rest must
// keep flowing on the same connection; responses are written under a per-connection lock.
//
// Only processes running as the server's own effective uid may talk to it (containerd runs
// as root, and so does the shim it starts): every accepted connection is checked with
// SO_PEERCRED, and any other peer is closed before a byte of it is read. This holds for
// abstract sockets, which have no file mode, and for a filesystem socket whose mode someone
// loosened.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "runtime/shim/ttrpc/protocol.h"  // Call, Handler
#include "runtime/shim/ttrpc/socket.h"
#include "runtime/shim/ttrpc/status.h"

namespace kata_sentry::shim::ttrpc {

class Server {
 public:
  // Requests in flight on one connection beyond this limit are answered ResourceExhausted,
  // so a misbehaving client cannot make the shim spawn threads without bound.
  static constexpr int kMaxInFlightPerConnection = 256;

  Server();
  ~Server();  // shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers before serve(); later registrations are ignored with a log line.
  void register_method(const std::string& service, const std::string& method, Handler handler);

  // Takes ownership of a listening socket and starts accepting on a background thread.
  // Fails if already serving or shut down.
  Status serve(UniqueFd listener);

  // Stops accepting and reading requests, waits for the handlers that are still running
  // (their responses still go out), then closes every connection. A handler that never
  // returns blocks shutdown, so a backend must release its blocked Waits first. Safe to call more than once and from any
  // thread except a handler (a handler asks for shutdown by other means, see wait()).
  void shutdown();

  // Blocks until shutdown() ran or request_stop() was called.
  void wait();
  // Wakes wait() without shutting down: a Shutdown RPC calls this so that the main thread,
  // not the handler, calls shutdown() after the response went out.
  void request_stop();

  int connection_count() const;
  // Connections closed unanswered because the peer ran as another uid. The first refusal is
  // logged with the peer's pid and uid; later ones only counted (and summed up at shutdown),
  // so a local user cannot flood the shim's log.
  uint64_t refused_connections() const { return refused_.load(); }

 private:
  struct Connection;

  void accept_loop();
  void read_loop(std::shared_ptr<Connection> conn);
  void dispatch(std::shared_ptr<Connection> conn, uint32_t stream_id, std::string payload);

  MethodTable methods_;  // filled before serve(), read-only afterwards
  UniqueFd listener_;
  UniqueFd wake_read_, wake_write_;  // a pipe that wakes the accept loop on shutdown

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool serving_ = false;
  bool stopping_ = false;
  bool stop_requested_ = false;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::thread> readers_;
  int in_flight_ = 0;  // handlers running, all connections
  const uid_t allowed_uid_;
  std::atomic<uint64_t> refused_{0};
  std::thread acceptor_;
};

}  // namespace kata_sentry::shim::ttrpc
