#include "exporters/nats_sink.h"

#include <nats/nats.h>

#include "exporters/cef.h"

#ifndef KS_VERSION
#define KS_VERSION "0"
#endif

namespace kata_sentry::exporters {
namespace {

std::string nats_error(natsStatus s, const std::string& what) {
  const char* last = nats_GetLastError(nullptr);
  return what + ": " + natsStatus_GetText(s) + (last && *last ? std::string(" (") + last + ")" : "");
}

}  // namespace

NatsSink::NatsSink(NatsOptions o) : options_(std::move(o)) {}

NatsSink::~NatsSink() { reset(); }

void NatsSink::reset() noexcept {
  if (js_) jsCtx_Destroy(js_);
  js_ = nullptr;
  if (nc_) natsConnection_Destroy(nc_);
  nc_ = nullptr;
  if (opts_) natsOptions_Destroy(opts_);
  opts_ = nullptr;
}

Status NatsSink::connect() {
  natsStatus s = natsOptions_Create(&opts_);
  if (s == NATS_OK) s = natsOptions_SetURL(opts_, options_.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts_, 5000);
  // The exporter owns retrying: a lost connection fails the batch, and the next one connects afresh.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts_, false);
  if (s == NATS_OK && !options_.token.empty()) s = natsOptions_SetToken(opts_, options_.token.c_str());
  if (s == NATS_OK && !options_.creds_file.empty()) s = natsOptions_SetUserCredentialsFromFiles(opts_, options_.creds_file.c_str(), nullptr);
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts_);
  if (s != NATS_OK) {
    auto e = nats_error(s, "connect to " + options_.url);
    reset();
    return fail(ErrorCode::unavailable, e);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options_.ack_wait_ms;
  jo.PublishAsync.MaxPending = 8192;
  jo.PublishAsync.ErrHandler = [](jsCtx*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<NatsSink*>(closure);
    ++self->errors_;
    (void)pae;
  };
  jo.PublishAsync.ErrHandlerClosure = this;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s == NATS_OK && !options_.stream.empty()) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&si, js_, options_.stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = options_.stream.c_str();
      const char* subjects[] = {options_.subject.c_str()};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Storage = js_FileStorage;
      s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    }
    if (si) jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
      auto e = nats_error(s, "JetStream stream " + options_.stream + " on " + options_.url);
      reset();
      return fail(ErrorCode::unavailable, e);
    }
  }
  if (s != NATS_OK) {
    auto e = nats_error(s, "JetStream on " + options_.url);
    reset();
    return fail(ErrorCode::unavailable, e);
  }
  return {};
}

Result<size_t> NatsSink::deliver(std::span<const ExportRecord> batch) noexcept {
  try {
    if (nc_ && natsConnection_IsClosed(nc_)) reset();
    if (!nc_)
      if (auto st = connect(); !st) return std::unexpected(st.error());
    errors_ = 0;
    for (const auto& r : batch) {
      std::string data = options_.cef ? to_cef(r, KS_VERSION) : json_line(r);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = r.id.c_str();  // the server's de-duplication key
      natsStatus s = js_PublishAsync(js_, options_.subject.c_str(), data.data(), static_cast<int>(data.size()), &po);
      if (s != NATS_OK) {
        auto e = nats_error(s, "publish to " + options_.subject);
        reset();
        return fail(ErrorCode::unavailable, e);
      }
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = options_.ack_wait_ms;
    natsStatus s = js_PublishAsyncComplete(js_, &wait);
    if (s != NATS_OK || errors_ > 0) {
      auto e = s != NATS_OK ? nats_error(s, "JetStream acknowledgements from " + options_.url)
                            : std::to_string(errors_.load()) + " publish(es) refused by JetStream on " + options_.url + " (subject " +
                                  options_.subject + " has no stream?)";
      reset();  // drops what is pending; the exporter sends the batch again (deduplicated by id)
      return fail(ErrorCode::unavailable, e);
    }
    return batch.size();
  } catch (...) {
    reset();
    return fail(ErrorCode::internal, describe() + ": out of memory");
  }
}

}  // namespace kata_sentry::exporters
