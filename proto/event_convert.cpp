#include "event_convert.h"

namespace kata_sentry {

void event_to_proto(const Event& e, v1::Event& out) {
  out.Clear();
  out.set_type(static_cast<uint32_t>(e.type));
  out.set_view(e.view == View::guest ? v1::VIEW_GUEST : v1::VIEW_HOST);
  out.set_time_ns(e.time_ns);
  out.set_host_time_ns(e.host_time_ns);
  out.set_has_res(e.has_res);
  out.set_res(e.res);
  out.set_flags(e.flags);
  out.set_sandbox_id(e.sandbox_id);
  out.set_sandbox_name(e.sandbox_name);
  out.set_vmm_pid(e.vmm_pid);
  out.set_container_id(e.container_id);
  out.set_pod_name(e.pod_name);
  out.set_pod_namespace(e.pod_namespace);
  auto* p = out.mutable_proc();
  p->set_pid(e.proc.pid);
  p->set_tid(e.proc.tid);
  p->set_ppid(e.proc.ppid);
  p->set_uid(e.proc.uid);
  p->set_gid(e.proc.gid);
  p->set_loginuid(e.proc.loginuid);
  p->set_cgroup_id(e.proc.cgroup_id);
  p->set_pid_ns(e.proc.pid_ns);
  p->set_mnt_ns(e.proc.mnt_ns);
  p->set_name(e.proc.name);
  p->set_exepath(e.proc.exepath);
  for (const auto& a : e.proc.args) p->add_args(a);
  p->set_pname(e.proc.pname);
  for (const auto& a : e.proc.ancestors) {
    auto* m = p->add_ancestors();
    m->set_pid(a.pid);
    m->set_name(a.name);
    m->set_exepath(a.exepath);
    m->set_cmdline(a.cmdline);
  }
  p->set_is_agent(e.proc.is_agent);
  out.set_path(e.path);
  out.set_path2(e.path2);
  out.set_fstype(e.fstype);
  for (auto v : e.arg) out.add_arg(v);
  if (e.addr.family) {
    auto* a = out.mutable_addr();
    a->set_family(e.addr.family);
    a->set_port(e.addr.port);
    a->set_vsock_cid(e.addr.vsock_cid);
    a->set_ip(e.addr.ip);
  }
}

Result<Event> event_from_proto(const v1::Event& m) {
  Event e;
  auto type = static_cast<EventType>(m.type());
  if (m.type() > UINT16_MAX || event_type_name(type).empty())
    return fail(ErrorCode::protocol, "event message: unknown type " + std::to_string(m.type()));
  if (m.view() != v1::VIEW_HOST && m.view() != v1::VIEW_GUEST)
    return fail(ErrorCode::protocol, "event message: unknown view " + std::to_string(m.view()));
  if (m.addr().family() > UINT16_MAX || m.addr().port() > UINT16_MAX)
    return fail(ErrorCode::protocol, "event message: socket family or port out of range");
  e.type = type;
  e.view = m.view() == v1::VIEW_GUEST ? View::guest : View::host;
  e.time_ns = m.time_ns();
  e.host_time_ns = m.host_time_ns();
  e.has_res = m.has_res();
  e.res = m.res();
  e.flags = m.flags();
  e.sandbox_id = m.sandbox_id();
  e.sandbox_name = m.sandbox_name();
  e.vmm_pid = m.vmm_pid();
  e.container_id = m.container_id();
  e.pod_name = m.pod_name();
  e.pod_namespace = m.pod_namespace();
  const auto& p = m.proc();
  e.proc.pid = p.pid();
  e.proc.tid = p.tid();
  e.proc.ppid = p.ppid();
  e.proc.uid = p.uid();
  e.proc.gid = p.gid();
  e.proc.loginuid = p.loginuid();
  e.proc.cgroup_id = p.cgroup_id();
  e.proc.pid_ns = p.pid_ns();
  e.proc.mnt_ns = p.mnt_ns();
  e.proc.name = p.name();
  e.proc.exepath = p.exepath();
  e.proc.args.assign(p.args().begin(), p.args().end());
  e.proc.pname = p.pname();
  for (const auto& a : p.ancestors()) e.proc.ancestors.push_back({a.pid(), a.name(), a.exepath(), a.cmdline()});
  e.proc.is_agent = p.is_agent();
  e.path = m.path();
  e.path2 = m.path2();
  e.fstype = m.fstype();
  e.arg.assign(m.arg().begin(), m.arg().end());
  if (m.has_addr()) {
    e.addr.family = static_cast<uint16_t>(m.addr().family());
    e.addr.port = static_cast<uint16_t>(m.addr().port());
    e.addr.vsock_cid = m.addr().vsock_cid();
    e.addr.ip = m.addr().ip();
  }
  return e;
}

}  // namespace kata_sentry
