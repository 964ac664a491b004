#pragma once
// Private: SHA-256 (FIPS 180-4) for shard checksums and fingerprints, so the data library needs no
// crypto dependency.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mmaux::data::detail {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// Hex SHA-256 of a string.
std::string sha256_hex(std::string_view text);
/// Hex SHA-256 of a file's bytes; throws DataError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace mmaux::data::detail
