#include "support/digest.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace gw::e2e {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP sha256 init");
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

void Sha256::update(std::string_view data) {
  update(data.data(), data.size());
}

void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(ctx_, data, size) != 1) throw std::runtime_error("EVP sha256 update");
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_, digest, &length) != 1) throw std::runtime_error("EVP sha256 final");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 sha;
  sha.update(data);
  return sha.hex();
}

void RandomBytes::fill(char* out, std::size_t size) {
  while (size > 0) {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    std::size_t n = size < sizeof z ? size : sizeof z;
    std::memcpy(out, &z, n);
    out += n;
    size -= n;
  }
}

std::string RandomBytes::next(std::size_t size) {
  std::string out(size, '\0');
  fill(out.data(), size);
  return out;
}

}  // namespace gw::e2e
