#include "mmaux/core/hash.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "mmaux/core/error.h"

namespace mmaux {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  MMAUX_ASSERT(ctx_ != nullptr &&
                   EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1,
               "OpenSSL SHA-256 initialisation failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t size) {
  MMAUX_ASSERT(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size) == 1,
               "OpenSSL SHA-256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  MMAUX_ASSERT(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) == 1,
               "OpenSSL SHA-256 final failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view text) {
  Sha256 s;
  s.update(text);
  return s.hex_digest();
}

std::string sha256_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  MMAUX_CHECK_DATA(f != nullptr, "cannot open '{}' to checksum it: {}", path, std::strerror(errno));
  Sha256 s;
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) s.update(buf.data(), n);
  MMAUX_CHECK_DATA(!std::ferror(f.get()), "read error while checksumming '{}'", path);
  return s.hex_digest();
}

}  // namespace mmaux
