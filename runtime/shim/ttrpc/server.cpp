#include "runtime/shim/ttrpc/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <exception>

#include "core/logging.h"
#include "core/peer_credentials.h"
#include "runtime/shim/ttrpc/frame.h"

namespace kata_sentry::shim::ttrpc {

struct Server::Connection {
  explicit Connection(UniqueFd f) : fd(std::move(f)) {}
  UniqueFd fd;            // closed when the last reader/worker drops the connection
  std::mutex write_mu;    // one frame at a time on the wire
  int in_flight = 0;      // guarded by Server::mu_
};

Server::Server() : allowed_uid_(::geteuid()) {}

Server::~Server() { shutdown(); }

void Server::register_method(const std::string& service, const std::string& method, Handler handler) {
  std::lock_guard lock(mu_);
  if (serving_) {
    logger("shim")->error("ttrpc: {}/{} registered after serve(); ignored", service, method);
    return;
  }
  methods_[service][method] = std::move(handler);
}

Status Server::serve(UniqueFd listener) {
  std::lock_guard lock(mu_);
  if (serving_ || stopping_) return fail(ErrorCode::internal, "ttrpc: server already serving or shut down");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("ttrpc: wake pipe");
  wake_read_ = UniqueFd(p[0]);
  wake_write_ = UniqueFd(p[1]);
  listener_ = std::move(listener);
  serving_ = true;
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void Server::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      logger("shim")->error("ttrpc: poll on listener: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;  // shutdown
    if (!(fds[0].revents & POLLIN)) continue;
    int cfd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      logger("shim")->error("ttrpc: accept: {}", std::strerror(errno));
      continue;
    }
    UniqueFd accepted(cfd);
    if (auto peer = require_peer_uid(accepted.get(), allowed_uid_); !peer) {
      if (refused_.fetch_add(1) == 0)
        logger("shim")->warn("ttrpc: refused a connection from {}: only uid {} may talk to the shim; further refusals are counted, not logged",
                             peer.error().describe(), allowed_uid_);
      continue;  // `accepted` closes it unanswered
    }
    auto conn = std::make_shared<Connection>(std::move(accepted));
    std::lock_guard lock(mu_);
    if (stopping_) return;
    connections_.push_back(conn);
    readers_.emplace_back([this, conn] { read_loop(conn); });
  }
}

void Server::read_loop(std::shared_ptr<Connection> conn) {
  auto respond = [&](uint32_t stream, const Reply& reply) {
    std::lock_guard wl(conn->write_mu);
    auto st = write_frame(conn->fd.get(), stream, MessageType::response, encode_response(reply));
    if (!st) logger("shim")->debug("ttrpc: {}", st.error().describe());
  };
  for (;;) {
    auto frame = read_frame(conn->fd.get());
    if (!frame) {
      if (frame.error().code != ErrorCode::unavailable)
        logger("shim")->warn("ttrpc: dropping connection: {}", frame.error().describe());
      break;
    }
    const FrameHeader& h = frame->header;
    FrameVerdict verdict = triage_frame(*frame);
    if (verdict.action == FrameAction::ignore) continue;
    if (verdict.action == FrameAction::refuse) {
      respond(h.stream_id, std::unexpected(std::move(verdict.error)));
      continue;
    }
    {
      std::unique_lock lock(mu_);
      if (stopping_) break;
      if (conn->in_flight >= kMaxInFlightPerConnection) {
        lock.unlock();
        respond(h.stream_id, rpc_error(Code::resource_exhausted, "too many requests in flight on this connection"));
        continue;
      }
      conn->in_flight++;
      in_flight_++;
    }
    try {
      std::thread([this, conn, id = h.stream_id, payload = std::move(frame->payload)]() mutable {
        dispatch(conn, id, std::move(payload));
      }).detach();
    } catch (const std::exception& e) {
      {
        std::lock_guard lock(mu_);
        conn->in_flight--;
        in_flight_--;
      }
      cv_.notify_all();
      respond(h.stream_id, rpc_error(Code::resource_exhausted, std::string("ttrpc: cannot start a worker: ") + e.what()));
    }
  }
  // Forget the connection; workers keep it (and its fd) alive until they have answered.
  std::lock_guard lock(mu_);
  std::erase(connections_, conn);
}

void Server::dispatch(std::shared_ptr<Connection> conn, uint32_t stream_id, std::string payload) {
  Reply reply = rpc_error(Code::internal, "ttrpc: no reply");
  auto route = route_request(stream_id, payload, methods_);
  if (!route) {
    reply = std::unexpected(std::move(route.error()));
  } else {
    const Call& call = route->call;
    try {
      reply = (*route->handler)(call);
    } catch (const std::exception& e) {
      reply = rpc_error(Code::internal, call.service + "/" + call.method + ": " + e.what());
    } catch (...) {
      reply = rpc_error(Code::internal, call.service + "/" + call.method + ": unknown exception");
    }
    if (!reply) logger("shim")->debug("ttrpc: {}/{} -> {}: {}", call.service, call.method, code_name(reply.error().code), reply.error().message);
  }
  std::string out = encode_response(reply);
  {
    std::lock_guard wl(conn->write_mu);
    auto st = write_frame(conn->fd.get(), stream_id, MessageType::response, out);
    if (!st) logger("shim")->debug("ttrpc: response on stream {}: {}", stream_id, st.error().describe());
  }
  {
    std::lock_guard lock(mu_);
    conn->in_flight--;
    in_flight_--;
  }
  cv_.notify_all();
}

void Server::shutdown() {
  std::vector<std::thread> readers;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    if (!serving_) {
      stop_requested_ = true;
      cv_.notify_all();
      return;
    }
    char b = 1;
    (void)!::write(wake_write_.get(), &b, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  // Stop reading new requests but let running handlers answer (containerd's Shutdown call
  // wants its reply), then close the connections for good.
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns = connections_;
    for (auto& c : conns) ::shutdown(c->fd.get(), SHUT_RD);
    readers.swap(readers_);
  }
  for (auto& t : readers) t.join();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
  for (auto& c : conns) ::shutdown(c->fd.get(), SHUT_RDWR);
  listener_ = UniqueFd();
  if (uint64_t n = refused_.load(); n > 0)
    logger("shim")->warn("ttrpc: refused {} connection(s) from processes not running as uid {}", n, allowed_uid_);
  stop_requested_ = true;
  cv_.notify_all();
}

void Server::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stop_requested_; });
}

void Server::request_stop() {
  std::lock_guard lock(mu_);
  stop_requested_ = true;
  cv_.notify_all();
}

int Server::connection_count() const {
  std::lock_guard lock(mu_);
  return int(connections_.size());
}

}  // namespace kata_sentry::shim::ttrpc
