// `kata-sentry audit verify`: checks an audit log end to end without trusting it: every
// segment header, every frame's CRC, the sequence, every link of the hash chain, and every
// checkpoint's Ed25519 signature, then that no sink acknowledged records the log no longer
// has. The first problem is named by file, offset and sequence.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "exporters/node_key.h"

namespace kata_sentry::exporters {

struct VerifyProblem {
  std::string file;     // segment path (or cursor file)
  uint64_t offset = 0;  // byte offset of the record (frame) in the file
  uint64_t seq = 0;     // the sequence the record has, or should have
  std::string what;
};

struct VerifyReport {
  std::optional<VerifyProblem> problem;  // none: the log verified
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t checkpoints = 0;
  uint64_t last_checkpoint_covers = 0;  // the last sequence a valid signed checkpoint covers
  std::string key;                      // hex of the public key checkpoints were checked against
  std::vector<std::string> notes;       // things worth saying that are not failures
};

// `trusted`: the node's public key from outside the log; without it, `dir`/node.pub.
VerifyReport verify_log(const std::filesystem::path& dir, std::optional<PublicKey> trusted);
std::string describe(const VerifyProblem& problem);

}  // namespace kata_sentry::exporters
