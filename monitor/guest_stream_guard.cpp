#include "monitor/guest_stream_guard.h"

#include <unistd.h>

#include <algorithm>

#include "core/guest_text.h"

namespace kata_sentry::monitor {
namespace {

using Clock = std::chrono::steady_clock;

// Distinct unknown container ids alarmed for one sandbox; beyond, they are only counted.
constexpr size_t kUnknownContainersAlarmed = 16;

}  // namespace

void TamperAlarm::raise(const std::string& reason) noexcept {
  try {
    {
      std::lock_guard lock(mu_);
      if (silenced_) return;
      auto now = Clock::now();
      if (ever_ && now - last_ < interval_) {
        ++suppressed_;
        return;
      }
      ever_ = true;
      last_ = now;
      ++raised_;
    }
    policy::Alert a;
    a.time_ns = wall_now_ns();
    a.rule = std::string(kTamperRule);
    a.priority = policy::Priority::critical;
    a.output = "Guest sensor silent or tampered (sandbox=" + reporter_.sandbox_id() + " reason=" + reason + ")";
    a.output_fields["sandbox.id"] = reporter_.sandbox_id();
    a.output_fields["sandbox.name"] = reporter_.sandbox_name();
    a.output_fields["reason"] = reason;
    a.tags = {"kata_sentry", "guest", "tamper"};
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) a.hostname = host;
    a.view = View::guest;
    reporter_.alert(a);
  } catch (...) {
    std::lock_guard lock(mu_);
    ++suppressed_;  // could not even build the alert (allocation): counted with the suppressed
  }
}

void TamperAlarm::silence() noexcept {
  std::lock_guard lock(mu_);
  silenced_ = true;
}

uint64_t TamperAlarm::raised() const {
  std::lock_guard lock(mu_);
  return raised_;
}

uint64_t TamperAlarm::suppressed() const {
  std::lock_guard lock(mu_);
  return suppressed_;
}

uint64_t GuardStats::batches_dropped() const {
  uint64_t n = batches_replayed;
  for (uint64_t c : batches_refused) n += c;
  return n;
}

GuestStreamGuard::GuestStreamGuard(GuardOptions options, Reporter& reporter, TamperAlarm& alarm)
    : options_(std::move(options)), reporter_(reporter), alarm_(alarm), tokens_(options_.burst), refill_at_(Clock::now()) {}

void GuestStreamGuard::set_known_containers(const std::vector<std::string>& ids) {
  std::lock_guard lock(containers_mu_);
  known_containers_.insert(ids.begin(), ids.end());
}

GuardStats GuestStreamGuard::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

GuardedBatch GuestStreamGuard::take(std::string_view wire, uint64_t received_ns, Clock::time_point now) {
  tick(now);  // heartbeats keep coming, so a quiet period after refused input is noticed here
  GuardedBatch out;
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.batches;
    stats_.bytes += wire.size();
  }
  auto decoded = decode_guest_batch(wire, options_.limits);
  if (!decoded) {
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.batches_refused[static_cast<size_t>(decoded.error().reason)];
    }
    dropped(guest_drop_reason_name(decoded.error().reason), decoded.error().detail, 0, now);
    return out;
  }
  GuestEventBatch& batch = *decoded;
  out.reported = batch.stats;
  out.lsm_active = batch.stats.lsm_enforcing;

  if (seq_known_ && batch.first_seq != next_seq_) {
    if (batch.first_seq < next_seq_) {
      // Numbers already seen: a replay (or a guest reusing them). Dropped whole, so that
      // nothing is evaluated twice.
      {
        std::lock_guard lock(stats_mu_);
        ++stats_.batches_replayed;
        stats_.events_replayed += batch.events.size();
      }
      std::string why = "sequence went backwards: expected " + std::to_string(next_seq_) + ", got " + std::to_string(batch.first_seq);
      alarm_.raise(why);
      dropped("replayed", why, batch.events.size(), now);
      return out;
    }
    uint64_t gap = batch.first_seq - next_seq_;
    {
      std::lock_guard lock(stats_mu_);
      stats_.seq_missing += gap;
    }
    alarm_.raise("sequence gap: " + std::to_string(gap) + " event(s) missing before seq " + std::to_string(batch.first_seq));
  }
  seq_known_ = true;
  next_seq_ = batch.first_seq + batch.events.size();
  out.accepted = true;
  out.heartbeat = batch.heartbeat;

  uint64_t limited = 0;
  out.events.reserve(batch.events.size());
  for (auto& ev : batch.events) {
    if (!take_token(now)) {
      ++limited;
      continue;
    }
    tag(ev, received_ns);
    out.events.push_back(std::move(ev));
  }
  {
    std::lock_guard lock(stats_mu_);
    if (batch.heartbeat) ++stats_.heartbeats;
    stats_.events += out.events.size();
    stats_.rate_limited += limited;
  }
  if (limited > 0)
    dropped("rate_limited", "more than " + std::to_string(static_cast<uint64_t>(options_.events_per_s)) + " events/s (burst " +
                                std::to_string(static_cast<uint64_t>(options_.burst)) + ")",
            limited, now);
  return out;
}

void GuestStreamGuard::tag(Event& e, uint64_t received_ns) {
  // The guest's word is never taken for which sandbox it is, nor for when the host saw it.
  e.view = View::guest;
  reporter_.stamp(e);
  e.vmm_pid = 0;
  e.host_time_ns = received_ns;
  if (e.container_id.empty()) return;  // the guest's own processes (agent, init)
  bool alarm = false;
  std::string claimed;
  {
    std::lock_guard lock(containers_mu_);
    if (known_containers_.count(e.container_id)) return;
    claimed = sanitize_guest_text(e.container_id, 80);
    alarm = unknown_seen_.size() < kUnknownContainersAlarmed && unknown_seen_.insert(e.container_id).second;
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.unknown_container;
  }
  e.container_id = std::string(kUnknownContainer);
  if (!alarm) return;
  policy::Alert a;
  a.time_ns = e.time_ns;
  a.host_time_ns = received_ns;
  a.rule = "Guest event names an unknown container";
  a.priority = policy::Priority::critical;
  a.output = "Guest event names a container the host never registered for this sandbox (sandbox=" + reporter_.sandbox_id() +
             " claimed=" + claimed + " process=" + sanitize_guest_text(e.proc.name, 32) + "); its events are tagged container.id=unknown";
  a.output_fields["sandbox.id"] = reporter_.sandbox_id();
  a.output_fields["container.claimed_id"] = claimed;
  a.tags = {"kata_sentry", "guest", "tamper"};
  a.view = View::guest;
  reporter_.alert(a);
}

bool GuestStreamGuard::take_token(Clock::time_point now) {
  double elapsed = std::chrono::duration<double>(now - refill_at_).count();
  if (elapsed > 0) {
    refill_at_ = now;
    tokens_ = std::min(options_.burst, tokens_ + elapsed * options_.events_per_s);
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void GuestStreamGuard::stream_ended(const std::string& why) {
  seq_known_ = false;  // a new stream may start a new numbering
  alarm_.raise("guest event stream ended: " + why);
}

void GuestStreamGuard::dropped(std::string_view reason, const std::string& detail, uint64_t events, Clock::time_point now) {
  last_drop_ = now;
  ++episode_batches_;
  episode_events_ += events;
  if (episode_reasons_.find(reason) == std::string::npos)
    episode_reasons_ += (episode_reasons_.empty() ? "" : ", ") + std::string(reason);
  if (in_episode_) return;
  in_episode_ = true;
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.drop_episodes;
  }
  auto rec = reporter_.record(View::guest, policy::Action::alert);
  rec.ok = false;
  rec.detail = "guest input refused (" + std::string(reason) + "): " + detail +
               "; further refused input is only counted until the guest has sent nothing refusable for " +
               std::to_string(options_.episode_quiet.count() / 1000) + " s";
  reporter_.audit(std::move(rec));
}

void GuestStreamGuard::tick(Clock::time_point now, bool force) {
  if (!in_episode_ || (!force && now - last_drop_ < options_.episode_quiet)) return;
  close_episode();
}

void GuestStreamGuard::close_episode() {
  auto rec = reporter_.record(View::guest, policy::Action::alert);
  rec.ok = false;
  rec.detail = "guest input refused, episode over: " + std::to_string(episode_batches_) + " refusal(s) (" + episode_reasons_ +
               "), " + std::to_string(episode_events_) + " event(s) not evaluated";
  reporter_.audit(std::move(rec));
  in_episode_ = false;
  episode_batches_ = episode_events_ = 0;
  episode_reasons_.clear();
}

}  // namespace kata_sentry::monitor
