// NATS JetStream through the NATS C client (libnats): each record is published to `subject`
// with the record id as the message id (Nats-Msg-Id), so that the server drops a record sent
// twice within the stream's duplicate window; a batch is acknowledged when JetStream has
// acknowledged (stored) every message of it. The stream is created when it does not exist and
// `stream` is set.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "exporters/sink.h"

typedef struct __natsConnection natsConnection;
typedef struct __natsOptions natsOptions;
typedef struct __jsCtx jsCtx;

namespace kata_sentry::exporters {

struct NatsOptions {
  std::string url;          // nats://host:port
  std::string subject;
  std::string stream;       // "" = the stream must exist
  std::string token;        // read from token_file
  std::string creds_file;
  bool cef = false;         // else Falco JSON
  int ack_wait_ms = 5000;
};

class NatsSink final : public Sink {
 public:
  explicit NatsSink(NatsOptions options);
  ~NatsSink() override;
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  void reset() noexcept override;
  std::string describe() const override { return "nats " + options_.url + " " + options_.subject; }

 private:
  Status connect();
  NatsOptions options_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<uint64_t> errors_{0};  // publish errors the client reported for the current batch
  std::string last_error_;
};

}  // namespace kata_sentry::exporters
