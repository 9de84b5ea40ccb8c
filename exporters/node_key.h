// The node's Ed25519 signing key (libsodium) and the signed checkpoints made with it.
//
// The key lives in a root-only file (mode 0600, owned by the user running the log); a file that
// others can read or write is refused, like ssh refuses a private key. The public half is
// written beside the log as `node.pub` (hex) so that `kata-sentry audit verify` can check the
// checkpoints without the secret; a verifier that has the public key from elsewhere (the SIEM,
// the node's enrolment) passes it explicitly, and then a rewritten log with a new key fails.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "exporters/log_format.h"

namespace kata_sentry::exporters {

using PublicKey = std::array<uint8_t, 32>;

class NodeKey {
 public:
  // Loads `path`, or creates it with a new key pair when it does not exist. Fails naming the
  // file when it is not a key, or when its mode lets group or others read or write it.
  static Result<NodeKey> load_or_create(const std::string& path);
  const PublicKey& public_key() const { return public_; }
  std::array<uint8_t, 64> sign(std::string_view message) const;

 private:
  std::array<uint8_t, 64> secret_{};  // libsodium's seed || public key form
  PublicKey public_{};
};

bool verify_signature(const PublicKey& key, std::string_view message, const std::array<uint8_t, 64>& signature);
// Reads a public key file (64 hex digits, optional newline).
Result<PublicKey> read_public_key(const std::string& path);

// A checkpoint: "the record with sequence `covers_seq` has hash `head`", at `time_ns`, for the
// log `log_id`, signed. It is itself a record of the log (RecordKind::checkpoint) and goes to
// every sink, so that the SIEM holds chain heads the node cannot rewrite later.
struct Checkpoint {
  uint64_t covers_seq = 0;
  Hash head{};
  uint64_t time_ns = 0;
  LogId log_id{};
  PublicKey key{};
  std::array<uint8_t, 64> signature{};

  // What is signed: a fixed text with every field, so no field can be moved to another.
  std::string message() const;
  void sign_with(const NodeKey& key);
  bool signature_valid() const;
};

nlohmann::ordered_json checkpoint_to_json(const Checkpoint& c, const std::string& hostname);
// Fails naming the missing or malformed field.
Result<Checkpoint> checkpoint_from_json(const std::string& payload);

}  // namespace kata_sentry::exporters
