#include "runtime/shim/ttrpc/client.h"

#include <sys/socket.h>

#include "runtime/shim/ttrpc/frame.h"
#include "ttrpc.pb.h"

namespace kata_sentry::shim::ttrpc {
namespace wire = ::kata_sentry::ttrpc::wire;  // generated from ttrpc.proto

Result<std::unique_ptr<Client>> Client::connect(const std::string& address) {
  auto fd = connect_unix(address);
  if (!fd) return std::unexpected(fd.error());
  return std::make_unique<Client>(std::move(*fd));
}

Client::Client(UniqueFd fd) : fd_(std::move(fd)) {
  reader_ = std::thread([this] { read_loop(); });
}

Client::~Client() {
  ::shutdown(fd_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

Client::Pending& Client::slot(uint32_t stream_id) { return pending_[stream_id]; }

void Client::read_loop() {
  std::string reason = "connection closed";
  for (;;) {
    auto frame = read_frame(fd_.get());
    if (!frame) {
      reason = frame.error().describe();
      break;
    }
    if (frame->header.type != MessageType::response) continue;
    Reply reply;
    wire::Response resp;
    if (frame->oversized) {
      reply = rpc_error(Code::resource_exhausted, "response exceeds the maximum message size");
    } else if (!resp.ParseFromString(frame->payload)) {
      reply = rpc_error(Code::internal, "ttrpc client: malformed Response");
    } else if (resp.has_status() && resp.status().code() != 0) {
      reply = rpc_error(static_cast<Code>(resp.status().code()), resp.status().message());
    } else {
      reply = std::move(*resp.mutable_payload());
    }
    std::lock_guard lock(mu_);
    Pending& p = slot(frame->header.stream_id);
    p.done = true;
    p.reply = std::move(reply);
    cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  closed_ = true;
  close_reason_ = reason;
  cv_.notify_all();
}

Reply Client::call(const std::string& service, const std::string& method, const std::string& payload,
                   int64_t timeout_nano) {
  wire::Request req;
  req.set_service(service);
  req.set_method(method);
  req.set_payload(payload);
  req.set_timeout_nano(timeout_nano);
  uint32_t id;
  {
    std::lock_guard lock(mu_);
    id = next_stream_;
    next_stream_ += 2;  // client streams are odd
    slot(id);
  }
  {
    std::lock_guard wl(write_mu_);
    auto st = write_frame(fd_.get(), id, MessageType::request, req.SerializeAsString());
    if (!st) {
      std::lock_guard lock(mu_);
      pending_.erase(id);
      return rpc_error(Code::unavailable, st.error().describe());
    }
  }
  return await(id);
}

Status Client::send_raw(const std::string& bytes) {
  std::lock_guard wl(write_mu_);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail_errno("ttrpc client: send");
    }
    done += size_t(w);
  }
  return {};
}

Reply Client::await(uint32_t stream_id) {
  std::unique_lock lock(mu_);
  slot(stream_id);
  cv_.wait(lock, [&] { return pending_[stream_id].done || closed_; });
  Pending& p = pending_[stream_id];
  if (!p.done) {
    pending_.erase(stream_id);
    return rpc_error(Code::unavailable, "ttrpc client: " + close_reason_.value_or("connection closed"));
  }
  Reply r = std::move(p.reply);
  pending_.erase(stream_id);
  return r;
}

}  // namespace kata_sentry::shim::ttrpc
