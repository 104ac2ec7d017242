// SHA-256 (OpenSSL EVP) and reproducible pseudo-random payloads, to check that bytes arrive intact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace gw::e2e {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  // Lower-case hex digest of everything so far; the object must not be updated afterwards.
  std::string hex();

 private:
  evp_md_ctx_st* ctx_;
};

std::string sha256_hex(std::string_view data);

// A fast, seeded byte generator (splitmix64): incompressible enough for relays, cheap for 64 MiB.
class RandomBytes {
 public:
  explicit RandomBytes(std::uint64_t seed) : state_(seed) {}
  void fill(char* out, std::size_t size);
  std::string next(std::size_t size);

 private:
  std::uint64_t state_;
};

}  // namespace gw::e2e
