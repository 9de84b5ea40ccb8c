#include "exporters/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <chrono>

#include "core/logging.h"
#include "exporters/cef.h"

#ifndef KS_VERSION
#define KS_VERSION "0"
#endif

namespace kata_sentry::exporters {

KafkaSink::KafkaSink(KafkaOptions o) : options_(std::move(o)) {}

KafkaSink::~KafkaSink() { reset(); }

void KafkaSink::reset() noexcept {
  if (rk_) {
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_, 1000);
    rd_kafka_destroy(rk_);
  }
  rk_ = nullptr;
}

// librdkafka calls this from rd_kafka_poll/flush on the exporter's thread.
void KafkaSink::on_delivery(rd_kafka_t*, const void* message, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const auto* m = static_cast<const rd_kafka_message_t*>(message);
  auto index = reinterpret_cast<uintptr_t>(m->_private);
  if (index >= self->reports_.size()) return;
  self->reports_[index] = m->err ? 2 : 1;
  if (m->err && self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(m->err);
  ++self->reported_;
}

Status KafkaSink::connect() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return fail(ErrorCode::invalid_argument, std::string("kafka ") + k + ": " + err);
    return {};
  };
  for (auto st : {set("bootstrap.servers", options_.brokers), set("enable.idempotence", "true"), set("acks", "all"),
                  set("linger.ms", "5"), set("message.timeout.ms", std::to_string(options_.message_timeout_ms)),
                  set("client.id", "kata-sentry")}) {
    if (!st) {
      rd_kafka_conf_destroy(conf);
      return st;
    }
  }
  rd_kafka_conf_set_opaque(conf, this);
  // librdkafka's own lines (each broker connection it retries) go to the export logger at
  // debug: the exporter reports the failures that matter, once per row.
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* fac, const char* buf) {
    logger("export")->debug("librdkafka {} [{}]: {}", level, fac, buf);
  });
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) { on_delivery(rk, m, opaque); });
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // takes conf
  if (!rk_) return fail(ErrorCode::invalid_argument, std::string("kafka producer: ") + err);
  return {};
}

Result<size_t> KafkaSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    if (rk_) {
      char reason[256];
      if (rd_kafka_fatal_error(rk_, reason, sizeof reason)) reset();  // an idempotence failure: start a new producer
    }
    if (!rk_)
      if (auto st = connect(); !st) return std::unexpected(st.error());
    reports_.assign(batch.size(), 0);
    reported_ = 0;
    first_error_.clear();
    size_t produced = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string value = options_.cef ? to_cef(batch[i], KS_VERSION) : json_line(batch[i]);
      rd_kafka_resp_err_t e = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
                                                RD_KAFKA_V_KEY(batch[i].id.data(), batch[i].id.size()),
                                                RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(i))), RD_KAFKA_V_END);
      if (e) {
        if (first_error_.empty()) first_error_ = rd_kafka_err2str(e);
        break;
      }
      ++produced;
    }
    // Every produced message ends in a delivery report: delivered, or failed after message.timeout.ms.
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.message_timeout_ms + 5000);
    while (reported_ < produced && std::chrono::steady_clock::now() < end) rd_kafka_poll(rk_, 100);
    size_t ok = 0;
    while (ok < produced && reports_[ok] == 1) ++ok;
    if (ok == batch.size()) return ok;
    if (reported_ < produced) reset();  // reports still missing: drop the producer, the exporter resends
    if (ok) return ok;
    return fail(ErrorCode::unavailable, describe() + ": " + (first_error_.empty() ? "no delivery report" : first_error_));
  } catch (...) {
    return fail(ErrorCode::internal, describe() + ": out of memory");
  }
}

}  // namespace kata_sentry::exporters
