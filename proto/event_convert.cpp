#include "event_convert.h"

namespace kata_sentry {

namespace {

void to_proto(const Event& e, v1::Event& out, bool with_image) {
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
  out.set_pod_uid(e.pod_uid);
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
  if (with_image) process_image_to_proto(e.proc, *p);
  p->set_is_agent(e.proc.is_agent);
  for (const auto& v : e.proc.env) p->add_env(v);
  p->set_env_truncated(e.proc.env_truncated);
  if (e.proc.caps) {
    auto* c = p->mutable_caps();
    c->set_effective(e.proc.caps->effective);
    c->set_permitted(e.proc.caps->permitted);
    c->set_inheritable(e.proc.caps->inheritable);
  }
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
  if (e.syscall) out.set_syscall(*e.syscall);
  if (e.file.known()) {
    auto* f = out.mutable_file();
    f->set_ino(e.file.ino);
    f->set_dev_major(e.file.dev_major);
    f->set_dev_minor(e.file.dev_minor);
    f->set_rdev_major(e.file.rdev_major);
    f->set_rdev_minor(e.file.rdev_minor);
    f->set_mode(e.file.mode);
    f->set_nlink(e.file.nlink);
    f->set_fs_magic(e.file.fs_magic);
  }
}

}  // namespace

void event_to_proto(const Event& e, v1::Event& out) { to_proto(e, out, true); }
void event_to_proto_without_process_image(const Event& e, v1::Event& out) { to_proto(e, out, false); }

bool same_process_image(const ProcessContext& a, const ProcessContext& b) {
  return a.exepath == b.exepath && a.args == b.args && a.args_truncated == b.args_truncated && a.cwd == b.cwd &&
         a.exe_deleted == b.exe_deleted && a.pname == b.pname && a.ancestors == b.ancestors;
}

void process_image_to_proto(const ProcessContext& p, v1::ProcessContext& out) {
  out.set_exepath(p.exepath);
  for (const auto& a : p.args) out.add_args(a);
  out.set_args_truncated(p.args_truncated);
  out.set_cwd(p.cwd);
  out.set_exe_deleted(p.exe_deleted);
  out.set_pname(p.pname);
  for (const auto& a : p.ancestors) {
    auto* m = out.add_ancestors();
    m->set_pid(a.pid);
    m->set_name(a.name);
    m->set_exepath(a.exepath);
    m->set_cmdline(a.cmdline);
  }
}

void process_image_from_proto(const v1::ProcessContext& m, ProcessContext& p) {
  p.exepath = m.exepath();
  p.args.assign(m.args().begin(), m.args().end());
  p.args_truncated = m.args_truncated();
  p.cwd = m.cwd();
  p.exe_deleted = m.exe_deleted();
  p.pname = m.pname();
  p.ancestors.clear();
  p.ancestors.reserve(size_t(m.ancestors_size()));
  for (const auto& a : m.ancestors()) p.ancestors.push_back({a.pid(), a.name(), a.exepath(), a.cmdline()});
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
  e.pod_uid = m.pod_uid();
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
  process_image_from_proto(p, e.proc);
  e.proc.is_agent = p.is_agent();
  e.proc.env.assign(p.env().begin(), p.env().end());
  e.proc.env_truncated = p.env_truncated();
  if (p.has_caps()) e.proc.caps = CapabilitySets{p.caps().effective(), p.caps().permitted(), p.caps().inheritable()};
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
  if (m.has_syscall()) e.syscall = m.syscall();
  if (m.has_file()) {
    const auto& f = m.file();
    e.file = FileObject{f.ino(), f.dev_major(), f.dev_minor(), f.rdev_major(), f.rdev_minor(), f.mode(), f.nlink(), f.fs_magic()};
  }
  return e;
}

}  // namespace kata_sentry
