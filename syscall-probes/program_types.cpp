#include "syscall-probes/program_types.h"

#include <utility>

namespace kata_sentry::probes {
namespace {

using T = EventType;
// As begin() in bpf/syscall_probes.bpf.c: the type each ENTER() handler gives its record
// (several syscalls share one). tests/host_probes/program_types_test.cpp checks that every
// syscall program of the object is listed.
constexpr std::pair<std::string_view, EventType> kSyscallTypes[] = {
    {"openat", T::openat}, {"openat2", T::openat2}, {"open", T::open}, {"creat", T::open},
    {"unlinkat", T::unlinkat}, {"unlink", T::unlinkat}, {"rename", T::renameat}, {"renameat", T::renameat},
    {"renameat2", T::renameat}, {"chmod", T::chmod}, {"fchmod", T::chmod}, {"fchmodat", T::chmod},
    {"fchmodat2", T::chmod}, {"mknod", T::mknodat}, {"mknodat", T::mknodat}, {"socket", T::socket},
    {"connect", T::connect}, {"bind", T::bind}, {"listen", T::listen}, {"accept", T::accept},
    {"accept4", T::accept}, {"ptrace", T::ptrace}, {"mount", T::mount}, {"umount", T::umount},
    {"setns", T::setns}, {"unshare", T::unshare}, {"init_module", T::init_module},
    {"finit_module", T::finit_module}, {"bpf", T::bpf}, {"kill", T::kill}, {"tkill", T::kill},
    {"tgkill", T::kill}, {"memfd_create", T::memfd_create}, {"mkdir", T::mkdirat}, {"mkdirat", T::mkdirat},
    {"rmdir", T::rmdir}, {"symlink", T::symlinkat}, {"symlinkat", T::symlinkat}, {"link", T::linkat},
    {"linkat", T::linkat}, {"chroot", T::chroot}, {"pivot_root", T::pivot_root},
    {"name_to_handle_at", T::name_to_handle_at}, {"open_by_handle_at", T::open_by_handle_at},
    {"setuid", T::setuid}, {"setgid", T::setgid}, {"setresuid", T::setresuid}, {"setresgid", T::setresgid},
    {"setreuid", T::setresuid}, {"setregid", T::setresgid}, {"capset", T::capset}, {"sendto", T::sendto},
    {"sendmsg", T::sendto}, {"recvfrom", T::recvfrom}, {"recvmsg", T::recvfrom},
    {"userfaultfd", T::userfaultfd}, {"perf_event_open", T::perf_event_open},
    {"io_uring_setup", T::io_uring_setup}, {"keyctl", T::keyctl}, {"add_key", T::add_key},
    {"request_key", T::request_key}, {"kexec_load", T::kexec_load}, {"kexec_file_load", T::kexec_file_load},
    {"prctl", T::prctl}, {"process_vm_readv", T::process_vm_readv},
    {"process_vm_writev", T::process_vm_writev},
};

}  // namespace

std::optional<EventType> syscall_program_type(std::string_view section) {
  constexpr std::string_view kEnter = "tp/syscalls/sys_enter_";
  if (!section.starts_with(kEnter)) return std::nullopt;
  std::string_view name = section.substr(kEnter.size());
  for (const auto& [syscall, type] : kSyscallTypes)
    if (syscall == name) return type;
  return std::nullopt;
}

}  // namespace kata_sentry::probes
