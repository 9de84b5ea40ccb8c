#include "guest_wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>

#include "core/guest_text.h"
#include "event_convert.h"

namespace kata_sentry {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kLengthDelimited = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

GuestSensorStats stats_from_proto(const v1::GuestSensorStats& m) {
  GuestSensorStats s;
  s.ringbuf_drops = m.ringbuf_drops();
  s.rate_limited = m.rate_limited();
  s.sent = m.sent();
  s.queue_drops = m.queue_drops();
  s.lsm_enforcing = m.lsm_enforcing();
  s.lsm_unavailable_reason = sanitize_guest_text(m.lsm_unavailable_reason(), 256);
  return s;
}

void stats_to_proto(const GuestSensorStats& s, v1::GuestSensorStats& m) {
  m.set_ringbuf_drops(s.ringbuf_drops);
  m.set_rate_limited(s.rate_limited);
  m.set_sent(s.sent);
  m.set_queue_drops(s.queue_drops);
  m.set_lsm_enforcing(s.lsm_enforcing);
  m.set_lsm_unavailable_reason(s.lsm_unavailable_reason);
}

std::unexpected<GuestBatchRejection> reject(GuestDropReason reason, std::string detail) {
  return std::unexpected(GuestBatchRejection{reason, std::move(detail)});
}

// Walks the wire form of an EventBatch, counting what decoding would create; it allocates
// nothing that depends on the input's size beyond two per-image counters (max_events each).
// The costs are deliberately pessimistic estimates of the decoded structures.
class BatchScan {
 public:
  explicit BatchScan(const GuestBatchLimits& limits) : limits_(limits) {}

  std::expected<void, GuestBatchRejection> run(std::string_view wire) {
    CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()), static_cast<int>(wire.size()));
    bool ok = fields(in, [&](uint32_t tag) {
      if (WireFormatLite::GetTagFieldNumber(tag) == v1::EventBatch::kEventsFieldNumber &&
          WireFormatLite::GetTagWireType(tag) == kLengthDelimited) {
        if (++events_ > limits_.max_events) return fail_with(GuestDropReason::too_many_events, "more than " + std::to_string(limits_.max_events) + " events");
        cost(sizeof(Event));
        return nested(in, [&](CodedInputStream& ev) { return event(ev); });
      }
      if (WireFormatLite::GetTagFieldNumber(tag) == v1::EventBatch::kProcessesFieldNumber &&
          WireFormatLite::GetTagWireType(tag) == kLengthDelimited) {
        if (image_costs_.size() >= limits_.max_events) return fail_with(GuestDropReason::too_many_events, "more than " + std::to_string(limits_.max_events) + " process images");
        size_t before = decoded_bytes_;
        cost(sizeof(ProcessContext));
        bool ok = nested(in, [&](CodedInputStream& p) { return process(p); });
        image_costs_.push_back(decoded_bytes_ - before);
        return ok;
      }
      return WireFormatLite::SkipField(&in, tag);
    });
    if (rejection_) return std::unexpected(*rejection_);
    // Every reference decodes into a copy of its image: an image sent once and referred to by
    // every event must cost what the copies cost.
    for (size_t i = 0; i < image_costs_.size() && i < image_refs_.size(); ++i)
      decoded_bytes_ += image_refs_[i] * image_costs_[i];
    if (!ok) return reject(GuestDropReason::malformed, "not a well-formed EventBatch (at byte " + std::to_string(in.CurrentPosition()) + ")");
    return {};
  }

 private:
  // Calls on_field(tag) for each field until the input (or the current limit) ends; false
  // when a tag is unreadable or on_field refuses.
  template <typename Fn>
  static bool fields(CodedInputStream& in, Fn&& on_field) {
    while (in.BytesUntilLimit() != 0) {
      if (in.ExpectAtEnd()) return true;
      uint32_t tag = in.ReadTag();
      if (tag == 0 || !on_field(tag)) return false;
    }
    return true;
  }

  // A length-delimited submessage read by `body` inside its own limit.
  template <typename Fn>
  static bool nested(CodedInputStream& in, Fn&& body) {
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(in.BytesUntilTotalBytesLimit())) return false;
    auto limit = in.PushLimit(static_cast<int>(length));
    bool ok = body(in);
    ok = ok && in.BytesUntilLimit() == 0;
    in.PopLimit(limit);
    return ok;
  }

  // A length-delimited field whose content is copied as is (bytes, string): its length is
  // what it costs.
  bool skip_counted(CodedInputStream& in) {
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    cost(length + sizeof(std::string));
    return in.Skip(static_cast<int>(length));
  }

  bool event(CodedInputStream& in) {
    size_t numeric_args = 0;
    return fields(in, [&](uint32_t tag) {
      int field = WireFormatLite::GetTagFieldNumber(tag);
      auto type = WireFormatLite::GetTagWireType(tag);
      if (field == v1::Event::kProcFieldNumber && type == kLengthDelimited)
        return nested(in, [&](CodedInputStream& p) { return process(p); });
      if (field == v1::Event::kProcRefFieldNumber && type == WireFormatLite::WIRETYPE_VARINT) {
        uint64_t ref = 0;
        if (!in.ReadVarint64(&ref)) return false;
        // Counted per occurrence (a repeated field keeps the last): pessimistic, never short.
        // A reference past max_events is refused when the event is decoded.
        if (ref != 0 && ref <= limits_.max_events) {
          if (image_refs_.size() < ref) image_refs_.resize(ref, 0);
          ++image_refs_[ref - 1];
        }
        return true;
      }
      if (field == v1::Event::kArgFieldNumber) {
        if (type == kLengthDelimited) {  // packed: one varint per entry
          return nested(in, [&](CodedInputStream& packed) {
            uint64_t v = 0;
            while (packed.BytesUntilLimit() > 0) {
              if (!packed.ReadVarint64(&v)) return false;
              if (++numeric_args > limits_.max_numeric_args) return fail_with(GuestDropReason::too_many_events, "an event with more than " + std::to_string(limits_.max_numeric_args) + " numeric arguments");
              cost(sizeof(uint64_t));
            }
            return true;
          });
        }
        if (++numeric_args > limits_.max_numeric_args) return fail_with(GuestDropReason::too_many_events, "an event with more than " + std::to_string(limits_.max_numeric_args) + " numeric arguments");
        cost(sizeof(uint64_t));
        return WireFormatLite::SkipField(&in, tag);
      }
      if (type == kLengthDelimited) return skip_counted(in);  // strings, the address
      return WireFormatLite::SkipField(&in, tag);
    });
  }

  bool process(CodedInputStream& in) {
    size_t args = 0, env = 0, ancestors = 0;
    return fields(in, [&](uint32_t tag) {
      int field = WireFormatLite::GetTagFieldNumber(tag);
      auto type = WireFormatLite::GetTagWireType(tag);
      if (type == kLengthDelimited && field == v1::ProcessContext::kArgsFieldNumber && ++args > limits_.max_args)
        return fail_with(GuestDropReason::too_many_events, "a process with more than " + std::to_string(limits_.max_args) + " arguments");
      if (type == kLengthDelimited && field == v1::ProcessContext::kEnvFieldNumber && ++env > limits_.max_env)
        return fail_with(GuestDropReason::too_many_events, "a process with more than " + std::to_string(limits_.max_env) + " environment strings");
      if (type == kLengthDelimited && field == v1::ProcessContext::kAncestorsFieldNumber) {
        if (++ancestors > limits_.max_ancestors)
          return fail_with(GuestDropReason::too_many_events, "a process with more than " + std::to_string(limits_.max_ancestors) + " ancestors");
        cost(sizeof(Ancestor));  // its strings are counted by length below
      }
      if (type == kLengthDelimited) return skip_counted(in);
      return WireFormatLite::SkipField(&in, tag);
    });
  }

  void cost(size_t bytes) { decoded_bytes_ += bytes; }

  bool fail_with(GuestDropReason reason, std::string detail) {
    if (!rejection_) rejection_ = GuestBatchRejection{reason, std::move(detail)};
    return false;
  }

 public:
  size_t decoded_bytes() const { return decoded_bytes_; }

 private:
  const GuestBatchLimits& limits_;
  size_t events_ = 0;
  // What decoding each EventBatch.processes entry costs, and how often events refer to it
  // (both at most max_events long).
  std::vector<size_t> image_costs_;
  std::vector<size_t> image_refs_;
  size_t decoded_bytes_ = 0;
  std::optional<GuestBatchRejection> rejection_;
};

}  // namespace

std::string_view guest_drop_reason_name(GuestDropReason reason) {
  switch (reason) {
    case GuestDropReason::oversized: return "oversized";
    case GuestDropReason::too_many_events: return "too_many_entries";
    case GuestDropReason::malformed: return "malformed";
    case GuestDropReason::invalid_event: return "invalid_event";
  }
  return "unknown";
}

std::expected<GuestEventBatch, GuestBatchRejection> decode_guest_batch(std::string_view wire, const GuestBatchLimits& limits) {
  if (wire.size() > limits.max_wire_bytes)
    return reject(GuestDropReason::oversized, std::to_string(wire.size()) + " bytes (limit " + std::to_string(limits.max_wire_bytes) + ")");
  BatchScan scan(limits);
  if (auto scanned = scan.run(wire); !scanned) return std::unexpected(scanned.error());
  if (scan.decoded_bytes() > limits.max_decoded_bytes)
    return reject(GuestDropReason::oversized, "would decode into ~" + std::to_string(scan.decoded_bytes()) + " bytes (limit " +
                                                  std::to_string(limits.max_decoded_bytes) + ")");
  v1::EventBatch msg;
  if (!msg.ParseFromArray(wire.data(), static_cast<int>(wire.size())))
    return reject(GuestDropReason::malformed, "not a well-formed EventBatch");

  GuestEventBatch batch;
  batch.first_seq = msg.first_seq();
  batch.heartbeat = msg.heartbeat();
  batch.stats = stats_from_proto(msg.stats());
  batch.events.reserve(size_t(msg.events_size()));  // bounded by the scan above
  for (const auto& pe : msg.events()) {
    auto ev = event_from_proto(pe);
    if (ev && pe.proc_ref() != 0) {
      if (pe.proc_ref() > uint32_t(msg.processes_size()))
        ev = fail(ErrorCode::protocol, "process image " + std::to_string(pe.proc_ref()) + " of " +
                                           std::to_string(msg.processes_size()) + " referred to");
      else
        process_image_from_proto(msg.processes(int(pe.proc_ref() - 1)), ev->proc);
    }
    if (!ev)
      return reject(GuestDropReason::invalid_event, "event at seq " + std::to_string(batch.first_seq + batch.events.size()) + ": " +
                                                        sanitize_guest_text(ev.error().message, 200));
    ev->sandbox_id.clear();
    ev->sandbox_name.clear();
    ev->pod_name.clear();
    ev->pod_namespace.clear();
    ev->pod_uid.clear();
    ev->vmm_pid = 0;
    ev->host_time_ns = 0;
    ev->view = View::guest;
    batch.events.push_back(std::move(*ev));
  }
  return batch;
}

void guest_batch_to_proto(const GuestEventBatch& batch, v1::EventBatch& out) {
  out.set_first_seq(batch.first_seq);
  out.set_heartbeat(batch.heartbeat);
  stats_to_proto(batch.stats, *out.mutable_stats());
  // Each process's image (argv, cwd, ancestors...) once: a pid's events share the last image
  // sent for it until one differs (an exec), which is sent anew.
  struct Sent {
    uint32_t pid;
    const Event* first;  // the event whose image processes[ref - 1] holds
    uint32_t ref;
  };
  std::vector<Sent> sent;  // one per process of the batch: a few, searched linearly
  for (const auto& e : batch.events) {
    auto* pe = out.add_events();
    auto it = std::find_if(sent.begin(), sent.end(), [&](const Sent& s) { return s.pid == e.proc.pid; });
    if (it != sent.end() && !same_process_image(it->first->proc, e.proc)) {
      it->first = &e;
      it->ref = 0;
    }
    if (it == sent.end()) it = sent.insert(sent.end(), Sent{e.proc.pid, &e, 0});
    if (it->ref == 0) {
      auto* image = out.add_processes();
      image->set_pid(e.proc.pid);
      process_image_to_proto(e.proc, *image);
      it->ref = uint32_t(out.processes_size());
    }
    event_to_proto_without_process_image(e, *pe);
    pe->set_seq(batch.first_seq + uint64_t(out.events_size() - 1));
    pe->set_proc_ref(it->ref);
  }
}

namespace {

google::protobuf::ArenaOptions encoder_arena_options() {
  google::protobuf::ArenaOptions o;
  // A batch of 256 file events is ~250 KiB of messages: a few large blocks, not 8 KiB ones.
  o.start_block_size = 64u << 10;
  o.max_block_size = 256u << 10;
  return o;
}

}  // namespace

GuestBatchEncoder::GuestBatchEncoder() : arena_(encoder_arena_options()) {}

const v1::EventBatch& GuestBatchEncoder::build(const GuestEventBatch& batch) {
  arena_.Reset();
  auto* msg = google::protobuf::Arena::CreateMessage<v1::EventBatch>(&arena_);
  guest_batch_to_proto(batch, *msg);
  return *msg;
}

std::string encode_guest_batch(const GuestEventBatch& batch) {
  v1::EventBatch msg;
  guest_batch_to_proto(batch, msg);
  return msg.SerializeAsString();
}

std::vector<std::string> refusals_from_proto(const google::protobuf::RepeatedPtrField<std::string>& refused) {
  std::vector<std::string> out;
  for (int i = 0; i < refused.size() && i < 4096; ++i) out.push_back(sanitize_guest_text(refused.Get(i), 512));
  return out;
}

}  // namespace kata_sentry
