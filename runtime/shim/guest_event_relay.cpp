#include "runtime/shim/guest_event_relay.h"

#include "core/logging.h"

namespace kata_sentry::shim {

bool relay_guest_events(const GuestEventRelay& r) {
  v1::GuestEventsMessage m;
  bool daemon_ok = true;
  while (!r.stopping() && daemon_ok) {
    auto st = r.open_stream([&](std::string&& wire) {
      if (r.stopping()) return false;
      m.Clear();
      m.set_batch(std::move(wire));
      daemon_ok = r.write(m);
      return daemon_ok;
    });
    if (r.stopping() || !daemon_ok) break;
    std::string why = st ? "closed by the guest" : r.explain(st.error());
    logger("shim")->warn("guest event stream ended ({}); re-opening it", why);
    m.Clear();
    m.set_stream_ended(why);
    daemon_ok = r.write(m);
    if (daemon_ok && r.wait_stopping(r.retry)) break;
  }
  return daemon_ok;
}

}  // namespace kata_sentry::shim
