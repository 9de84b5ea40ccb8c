// Kafka through librdkafka's idempotent producer (enable.idempotence: exactly one copy per
// produce, in order, through broker retries): each record is produced with the record id as the
// key; the batch is acknowledged as far as delivery reports say, in order. A record whose
// delivery failed (the brokers stayed down past message.timeout.ms) is produced again by the
// exporter after a backoff; a consumer that needs exactly-once dedupes by the key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "exporters/sink.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace kata_sentry::exporters {

struct KafkaOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic;
  bool cef = false;     // else Falco JSON
  int message_timeout_ms = 10000;
};

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(KafkaOptions options);
  ~KafkaSink() override;
  Result<size_t> deliver(std::span<const ExportRecord> batch) noexcept override;
  void reset() noexcept override;
  std::string describe() const override { return "kafka " + options_.brokers + " " + options_.topic; }

 private:
  Status connect();
  static void on_delivery(rd_kafka_t* rk, const void* message, void* opaque);

  KafkaOptions options_;
  rd_kafka_t* rk_ = nullptr;
  // Delivery reports of the batch in flight: 0 pending, 1 delivered, 2 failed.
  std::vector<int> reports_;
  size_t reported_ = 0;
  std::string first_error_;
};

}  // namespace kata_sentry::exporters
