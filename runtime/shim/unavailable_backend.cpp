#include "runtime/shim/unavailable_backend.h"

namespace kata_sentry::shim {
namespace {

std::unexpected<Error> no_vm(const std::string& what) {
  return fail(ErrorCode::unavailable, what + ": this shim was built without the kata-sentry Sandbox runtime "
                                             "(runtime/sandbox), so it cannot boot a pod VM");
}

}  // namespace

Result<uint32_t> UnavailableBackend::create(const ContainerSpec& spec) { return no_vm("create " + spec.id); }
Result<uint32_t> UnavailableBackend::start(const std::string& id, const std::string&) { return no_vm("start " + id); }
Status UnavailableBackend::exec(const ExecSpec& spec) { return no_vm("exec in " + spec.container_id); }
Status UnavailableBackend::kill(const std::string& id, const std::string&, uint32_t, bool) { return no_vm("kill " + id); }
Result<std::vector<ProcessInfo>> UnavailableBackend::pids(const std::string& id) { return no_vm("pids " + id); }
Status UnavailableBackend::resize_pty(const std::string& id, const std::string&, uint32_t, uint32_t) {
  return no_vm("resize pty " + id);
}
Status UnavailableBackend::close_stdin(const std::string& id, const std::string&) { return no_vm("close stdin " + id); }
Status UnavailableBackend::pause(const std::string& id) { return no_vm("pause " + id); }
Status UnavailableBackend::resume(const std::string& id) { return no_vm("resume " + id); }
Status UnavailableBackend::update(const std::string& id, const std::string&) { return no_vm("update " + id); }
Result<TaskStats> UnavailableBackend::stats(const std::string& id) { return no_vm("stats " + id); }

}  // namespace kata_sentry::shim
