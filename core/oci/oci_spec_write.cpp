// OciSpec → config.json text (the inverse of parse_oci_spec).
#include <nlohmann/json.hpp>

#include "core/oci/oci_spec.h"

namespace kata_sentry {
namespace {

using nlohmann::json;

json caps_json(const OciCapabilities& c) {
  return {{"bounding", c.bounding}, {"effective", c.effective}, {"permitted", c.permitted},
          {"inheritable", c.inheritable}, {"ambient", c.ambient}};
}

json process_json(const OciProcess& p) {
  json j = {{"terminal", p.terminal}, {"args", p.args}, {"env", p.env}, {"cwd", p.cwd},
            {"user", {{"uid", p.user.uid}, {"gid", p.user.gid}}},
            {"noNewPrivileges", p.no_new_privileges}};
  if (!p.user.additional_gids.empty()) j["user"]["additionalGids"] = p.user.additional_gids;
  if (p.user.umask) j["user"]["umask"] = *p.user.umask;
  if (p.oom_score_adj) j["oomScoreAdj"] = *p.oom_score_adj;
  if (p.capabilities) j["capabilities"] = caps_json(*p.capabilities);
  if (!p.rlimits.empty()) {
    json& rl = j["rlimits"] = json::array();
    for (const auto& l : p.rlimits) rl.push_back({{"type", l.type}, {"hard", l.hard}, {"soft", l.soft}});
  }
  return j;
}

json seccomp_json(const OciSeccomp& s) {
  json j = {{"defaultAction", s.default_action}, {"architectures", s.architectures}};
  if (s.default_errno_ret) j["defaultErrnoRet"] = *s.default_errno_ret;
  json& calls = j["syscalls"] = json::array();
  for (const auto& c : s.syscalls) {
    json e = {{"names", c.names}, {"action", c.action}};
    if (c.errno_ret) e["errnoRet"] = *c.errno_ret;
    if (!c.args.empty()) {
      json& args = e["args"] = json::array();
      for (const auto& a : c.args)
        args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
    }
    calls.push_back(std::move(e));
  }
  return j;
}

json linux_json(const OciLinux& lx) {
  json j = json::object();
  json& ns = j["namespaces"] = json::array();
  for (const auto& n : lx.namespaces) {
    json e = {{"type", n.type}};
    if (!n.path.empty()) e["path"] = n.path;
    ns.push_back(std::move(e));
  }
  auto maps = [](const std::vector<OciIdMapping>& v) {
    json a = json::array();
    for (const auto& m : v) a.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
    return a;
  };
  if (!lx.uid_mappings.empty()) j["uidMappings"] = maps(lx.uid_mappings);
  if (!lx.gid_mappings.empty()) j["gidMappings"] = maps(lx.gid_mappings);
  j["maskedPaths"] = lx.masked_paths;
  j["readonlyPaths"] = lx.readonly_paths;
  json res = json::object();
  const OciResources& r = lx.resources;
  if (r.memory_limit) res["memory"]["limit"] = *r.memory_limit;
  if (r.pids_limit) res["pids"]["limit"] = *r.pids_limit;
  if (r.cpu_shares) res["cpu"]["shares"] = *r.cpu_shares;
  if (r.cpu_quota) res["cpu"]["quota"] = *r.cpu_quota;
  if (r.cpu_period) res["cpu"]["period"] = *r.cpu_period;
  if (!r.devices.empty()) {
    json& devs = res["devices"] = json::array();
    for (const auto& d : r.devices) {
      json e = {{"allow", d.allow}, {"type", d.type}, {"access", d.access}};
      if (d.major) e["major"] = *d.major;
      if (d.minor) e["minor"] = *d.minor;
      devs.push_back(std::move(e));
    }
  }
  if (!res.empty()) j["resources"] = std::move(res);
  if (lx.seccomp) j["seccomp"] = seccomp_json(*lx.seccomp);
  if (!lx.cgroups_path.empty()) j["cgroupsPath"] = lx.cgroups_path;
  if (!lx.sysctl.empty()) j["sysctl"] = lx.sysctl;
  return j;
}

}  // namespace

std::string oci_spec_to_json(const OciSpec& spec) {
  json j = {{"ociVersion", spec.oci_version},
            {"process", process_json(spec.process)},
            {"root", {{"path", spec.root.path}, {"readonly", spec.root.readonly}}}};
  if (!spec.hostname.empty()) j["hostname"] = spec.hostname;
  json& mounts = j["mounts"] = json::array();
  for (const auto& m : spec.mounts) {
    json e = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
    if (!m.options.empty()) e["options"] = m.options;
    mounts.push_back(std::move(e));
  }
  j["linux"] = linux_json(spec.linux);
  return j.dump(2);
}

}  // namespace kata_sentry
