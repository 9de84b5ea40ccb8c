// What a `deny` rule compiles to: a plain description of the operations to refuse, that
// the in-kernel enforcement programs (guest LSM, host cgroup programs) can decide on at
// the moment of the syscall. Another component turns it into BPF map entries. Every
// list is an OR of its entries; the lists are ANDed; an empty list means "any".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "core/result.h"

namespace kata_sentry::policy {

struct Ast;

struct EnforcementSpec {
  std::string rule;
  std::vector<EventType> event_types;     // never empty
  std::vector<std::string> exact_paths;   // fd.name = / in
  std::vector<std::string> path_prefixes; // fd.name startswith / pmatch, fd.directory =
  std::vector<std::string> binaries;      // proc.exepath / proc.exe = / in
  std::vector<std::string> comms;         // proc.name = / in
  std::optional<uint32_t> uid;            // user.uid =
  bool any_container = false;             // container.id != host
  std::vector<std::string> container_ids; // container.id = / in
  std::vector<uint64_t> cgroup_ids;       // proc.cgroup_id = / in
  std::vector<std::string> sandbox_ids;   // sandbox.id = / in
  std::optional<View> view;               // view = guest|host
  // Network destination (connect/sendto): only host cgroup programs can match these.
  std::vector<uint16_t> socket_families;  // fd.typechar / fd.type / fd.sockfamily: AF_INET, AF_INET6
  std::vector<uint16_t> ports;            // fd.sport / fd.rport = / in (the destination's)
  std::vector<std::string> ip_nets;       // fd.sip / fd.rip (address), fd.snet / fd.rnet (CIDR)

  nlohmann::json to_json() const;
};

// Fails with a message that quotes the part of the condition that has no in-kernel
// equivalent ("'proc.pname = nginx': in-kernel enforcement matches only ...").
Result<EnforcementSpec> build_enforcement_spec(const std::string& rule, const Ast& condition);

}  // namespace kata_sentry::policy
