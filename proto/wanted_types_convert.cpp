#include "wanted_types_convert.h"

#include <string>

namespace kata_sentry {

void wanted_types_to_proto(const WireTypeSet& types, v1::SetWantedTypesRequest& out) {
  out.Clear();
  if (types.all()) {
    out.set_all(true);
    return;
  }
  for (size_t t = 0; t < types.size(); ++t)
    if (types.test(t)) out.add_types(static_cast<uint32_t>(t));
}

Result<WireTypeSet> wanted_types_from_proto(const v1::SetWantedTypesRequest& msg) {
  WireTypeSet set;
  if (msg.all()) return set.set();
  if (static_cast<size_t>(msg.types_size()) > set.size())
    return fail(ErrorCode::invalid_argument,
                "SetWantedTypes: " + std::to_string(msg.types_size()) + " types, at most " + std::to_string(set.size()));
  for (uint32_t t : msg.types()) {
    if (t >= set.size())
      return fail(ErrorCode::invalid_argument,
                  "SetWantedTypes: event type " + std::to_string(t) + " is out of range (< " + std::to_string(set.size()) + ")");
    set.set(t);
  }
  return set;
}

}  // namespace kata_sentry
