#pragma once
// Private: SHA-256 for shard checksums and fingerprints, from OpenSSL's libcrypto (it uses the
// CPU's SHA instructions: shards are hashed at about 1 GB/s, which matters when a loader verifies
// gigabytes of shards at start-up).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mmaux::data::detail {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void* ctx_;  ///< EVP_MD_CTX
};

/// Hex SHA-256 of a string.
std::string sha256_hex(std::string_view text);
/// Hex SHA-256 of a file's bytes; throws DataError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace mmaux::data::detail
