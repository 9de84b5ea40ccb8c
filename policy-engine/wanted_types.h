// What the kernel needs to know of a rule set: the event types any of its rules or sequences
// can match. The probes build no record of any other type (in-kernel filtering: an event no
// consumer can use is never read, parked or copied), so this must never be narrower than the
// engine's own index (engine.cpp): a rule indexed on a type must see that type's events.
#pragma once

#include <string>

#include "policy-engine/condition.h"
#include "policy-engine/rule.h"
#include "policy-engine/view_index.h"

namespace kata_sentry::policy {

// The union of the index types of every enabled rule and sequence step (named rules disabled
// on their own too) that can match an event of `views`. A rule with no evt.type constraint can
// match every type, so one such rule makes the whole set. Each kernel's probes need only their
// own view's set: the host builds nothing for a rule that begins `view = guest`. Pure; never
// fails.
TypeSet types_needed(const RuleSet& rules, ViewSet views = all_views());

// "execve,clone,openat" (Falco's names where it has one), or "all" / "none": for log lines.
std::string describe_types(const TypeSet& types);

}  // namespace kata_sentry::policy
