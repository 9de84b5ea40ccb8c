// Checks on host-supplied names before they reach the filesystem or a cgroup path. The host is
// the agent's only client, but a confused or compromised shim must not make the agent touch
// files outside the sandbox's share. None of these throws; a refusal is
// ErrorCode::invalid_argument naming the field, and quotes at most 80 bytes of the value.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/result.h"

namespace kata_sentry::v1 {
class CreateSandboxRequest;
class CreateContainerRequest;
class ContainerRequest;
class ExecProcessRequest;
class ProcessRequest;
class SignalProcessRequest;
class WriteStdinRequest;
}  // namespace kata_sentry::v1

namespace kata_sentry::agent {

// [A-Za-z0-9_.-]{1,64}, and not "." or "..". `what` names the field in the error
// ("container_id \"a/b\": must match [A-Za-z0-9_.-]{1,64}").
Status check_id(std::string_view what, std::string_view id);

// Like check_id, but empty is allowed (it addresses a container's init process).
Status check_exec_id(std::string_view id);

// <base>/<relative>, where relative has no "..", is not absolute and is non-empty.
Result<std::filesystem::path> confined_path(const std::filesystem::path& base,
                                            std::string_view relative, std::string_view what);

// An absolute path without ".." components.
Status check_absolute_path(std::string_view what, std::string_view path);

// 1..64.
Status check_signal(int sig);

// [A-Za-z0-9.-]{0,64}.
Status check_hostname(std::string_view hostname);

// Everything AgentService checks in a request before it calls the Sandbox, one overload per
// request type (tests/fuzz/agent_request_checks_fuzz.cpp holds them to these contracts):
// CreateSandbox: the hostname, and shared_dir when set is an absolute path.
Status check_request(const v1::CreateSandboxRequest& r);
// CreateContainer: container_id (the bundle is confined to the shared dir by the Sandbox,
// which knows it).
Status check_request(const v1::CreateContainerRequest& r);
// Start/Remove/StatsContainer: container_id.
Status check_request(const v1::ContainerRequest& r);
// ExecProcess: container_id and a non-empty exec_id.
Status check_request(const v1::ExecProcessRequest& r);
// Wait, CloseStdin, ReadOutput: container_id, and exec_id when set ("" is the init).
Status check_request(const v1::ProcessRequest& r);
// SignalProcess: as ProcessRequest, and the signal is 1..64.
Status check_request(const v1::SignalProcessRequest& r);
// WriteStdin: as ProcessRequest.
Status check_request(const v1::WriteStdinRequest& r);

}  // namespace kata_sentry::agent
