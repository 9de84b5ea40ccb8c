// DenyRule (core/deny_rule.h) <-> its wire form in SetEnforcementRequest (proto/agent.proto),
// for both ends: the host side that pushes a deny set (agent client, kata-sentryd's relay) and
// the agent that receives it.
#pragma once

#include <vector>

#include "agent.pb.h"
#include "core/deny_rule.h"
#include "core/result.h"

namespace kata_sentry {

void deny_rules_to_proto(const std::vector<DenyRule>& rules, v1::SetEnforcementRequest& out);
// Refuses an unknown event type, naming the rule (the sender may be a hostile peer).
Result<std::vector<DenyRule>> deny_rules_from_proto(const v1::SetEnforcementRequest& msg);

}  // namespace kata_sentry
