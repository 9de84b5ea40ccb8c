#include "exporters/node_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "core/event_json.h"
#include "core/read_file.h"
#include "core/unique_fd.h"

namespace kata_sentry::exporters {
namespace {

// libsodium must be initialised once before its random generator is used.
bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<NodeKey> NodeKey::load_or_create(const std::string& path) {
  if (!sodium_ready()) return fail(ErrorCode::internal, "libsodium could not be initialised");
  NodeKey k;
  std::array<uint8_t, 32> seed{};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd && errno == ENOENT) {
    randombytes_buf(seed.data(), seed.size());
    // O_EXCL: two daemons starting at once never overwrite each other's key.
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out) return fail_errno("create node key " + path);
    std::string text = hex(seed) + "\n";
    if (::write(out.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(out.get()) != 0)
      return fail_errno("write node key " + path);
  } else {
    if (!fd) return fail_errno("open node key " + path);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("stat node key " + path);
    if (!S_ISREG(st.st_mode)) return fail(ErrorCode::invalid_argument, "node key " + path + ": not a regular file");
    if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
      return fail(ErrorCode::permission_denied, "node key " + path + ": mode " + mode + " owner uid " + std::to_string(st.st_uid) +
                                                    "; it must be owned by uid " + std::to_string(::geteuid()) +
                                                    " and readable by it alone (chmod 600)");
    }
    char buf[200] = {};
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n < 0) return fail_errno("read node key " + path);
    if (!parse_hex(trim(std::string(buf, static_cast<size_t>(n))), seed))
      return fail(ErrorCode::invalid_argument, "node key " + path + ": not 64 hex digits (an Ed25519 seed)");
  }
  crypto_sign_seed_keypair(k.public_.data(), k.secret_.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  return k;
}

std::array<uint8_t, 64> NodeKey::sign(std::string_view message) const {
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(message.data()), message.size(), secret_.data());
  return sig;
}

bool verify_signature(const PublicKey& key, std::string_view message, const std::array<uint8_t, 64>& sig) {
  if (!sodium_ready()) return false;
  return crypto_sign_verify_detached(sig.data(), reinterpret_cast<const uint8_t*>(message.data()), message.size(), key.data()) == 0;
}

Result<PublicKey> read_public_key(const std::string& path) {
  auto text = read_small_file(path, 4096);
  if (!text) return fail_errno("read public key " + path);
  PublicKey k{};
  if (!parse_hex(trim(*text), k)) return fail(ErrorCode::invalid_argument, "public key " + path + ": not 64 hex digits");
  return k;
}

std::string Checkpoint::message() const {
  return "kata-sentry audit checkpoint v1\nlog " + hex(log_id) + "\nseq " + std::to_string(covers_seq) + "\nhead " + hex(head) +
         "\ntime " + std::to_string(time_ns) + "\n";
}

void Checkpoint::sign_with(const NodeKey& k) {
  key = k.public_key();
  signature = k.sign(message());
}

bool Checkpoint::signature_valid() const { return verify_signature(key, message(), signature); }

nlohmann::ordered_json checkpoint_to_json(const Checkpoint& c, const std::string& hostname) {
  nlohmann::ordered_json j;
  j["checkpoint"] = true;
  j["time"] = format_rfc3339_ns(c.time_ns);
  j["time_ns"] = c.time_ns;
  j["hostname"] = hostname;
  j["log_id"] = hex(c.log_id);
  j["covers_seq"] = c.covers_seq;
  j["head"] = hex(c.head);
  j["key"] = hex(c.key);
  j["signature"] = hex(c.signature);
  return j;
}

Result<Checkpoint> checkpoint_from_json(const std::string& payload) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(ErrorCode::protocol, "checkpoint: payload is not a JSON object");
  Checkpoint c;
  auto str = [&](const char* key, std::span<uint8_t> out) -> Status {
    if (!j.contains(key) || !j[key].is_string() || !parse_hex(j[key].get<std::string>(), out))
      return fail(ErrorCode::protocol, std::string("checkpoint: '") + key + "' is missing or not hex of the right length");
    return {};
  };
  auto num = [&](const char* key, uint64_t* out) -> Status {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return fail(ErrorCode::protocol, std::string("checkpoint: '") + key + "' is missing");
    *out = j[key].get<uint64_t>();
    return {};
  };
  for (auto st : {str("log_id", c.log_id), str("head", c.head), str("key", c.key), str("signature", c.signature),
                  num("covers_seq", &c.covers_seq), num("time_ns", &c.time_ns)})
    if (!st) return std::unexpected(st.error());
  return c;
}

}  // namespace kata_sentry::exporters
