#include "support/socks_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace gw::testing {
namespace {

void set_timeout(int fd, int option, std::chrono::milliseconds guard) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(guard.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((guard.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

std::string byte(unsigned value) {
  return std::string(1, static_cast<char>(value & 0xFF));
}

std::string be16(unsigned value) {
  return byte(value >> 8) + byte(value);
}

std::string be32(std::uint32_t value) {
  return byte(value >> 24) + byte(value >> 16) + byte(value >> 8) + byte(value);
}

std::string openssl_failure(const char* what) {
  return std::string("OpenSSL: ") + what + " failed";
}

}  // namespace

// ---- client ----

SocksClient::SocksClient(std::uint16_t port, std::chrono::milliseconds guard) : guard_(guard) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  set_timeout(fd_, SO_RCVTIMEO, guard);
  set_timeout(fd_, SO_SNDTIMEO, guard);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(error, std::generic_category(), "connect to SOCKS5 port " + std::to_string(port));
  }
}

SocksClient::~SocksClient() {
  close();
}

SocksClient::SocksClient(SocksClient&& other) noexcept : fd_(other.fd_), guard_(other.guard_) {
  other.fd_ = -1;
}

std::string SocksClient::greeting(std::string_view methods) {
  return byte(0x05) + byte(static_cast<unsigned>(methods.size())) + std::string(methods);
}

std::string SocksClient::password_message(std::string_view username, std::string_view password) {
  return byte(0x01) + byte(static_cast<unsigned>(username.size())) + std::string(username) +
         byte(static_cast<unsigned>(password.size())) + std::string(password);
}

std::string SocksClient::jwt_message(std::string_view token, std::string_view location) {
  const std::string encoded = location.empty() ? std::string() : base64_encode(location);
  return byte(0x01) + be32(static_cast<std::uint32_t>(token.size())) + std::string(token) +
         byte(static_cast<unsigned>(encoded.size())) + encoded;
}

std::string SocksClient::connect_request(std::string_view host, std::uint16_t port) {
  std::string literal(host);
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  unsigned char raw[16];
  std::string address;
  if (::inet_pton(AF_INET, literal.c_str(), raw) == 1) {
    address = byte(0x01) + std::string(reinterpret_cast<const char*>(raw), 4);
  } else if (::inet_pton(AF_INET6, literal.c_str(), raw) == 1) {
    address = byte(0x04) + std::string(reinterpret_cast<const char*>(raw), 16);
  } else {
    address = byte(0x03) + byte(static_cast<unsigned>(host.size())) + std::string(host);
  }
  return byte(0x05) + byte(0x01) + byte(0x00) + address + be16(port);
}

SocksResult SocksClient::connect(const SocksAuth& auth, std::string_view host, std::uint16_t port,
                                 std::string_view early_data) {
  SocksResult result;
  std::string answer;
  const unsigned method = auth.kind == SocksAuth::Kind::jwt        ? 0x80
                          : auth.kind == SocksAuth::Kind::password ? 0x02
                                                                   : 0x00;
  try {
    send(greeting(byte(method)));
    if (!read_exact(answer, 2, result.error)) return result;
    result.method = static_cast<unsigned char>(answer[1]);
    if (static_cast<unsigned>(result.method) != method) {
      result.error = "server chose method " + std::to_string(result.method);
      return result;
    }
    if (auth.kind != SocksAuth::Kind::none) {
      send(auth.kind == SocksAuth::Kind::jwt ? jwt_message(auth.token, auth.location)
                                             : password_message(auth.username, auth.password));
      if (!read_exact(answer, 2, result.error)) return result;
      result.auth_status = static_cast<unsigned char>(answer[1]);
      if (result.auth_status != 0) {
        result.error = "authentication refused";
        return result;
      }
    }
    send(connect_request(host, port) + std::string(early_data));
    if (!read_exact(answer, 4, result.error)) return result;
    result.reply = static_cast<unsigned char>(answer[1]);
    const unsigned type = static_cast<unsigned char>(answer[3]);
    std::string address;
    if (type == 0x01 || type == 0x04) {
      if (!read_exact(address, type == 0x01 ? 4 : 16, result.error)) return result;
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(type == 0x01 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
      result.bound = type == 0x01 ? std::string(text) : "[" + std::string(text) + "]";
    } else if (type == 0x03) {
      if (!read_exact(address, 1, result.error)) return result;
      const std::size_t size = static_cast<unsigned char>(address[0]);
      if (!read_exact(address, size, result.error)) return result;
      result.bound = address;
    } else {
      result.error = "reply with address type " + std::to_string(type);
      return result;
    }
    std::string bound_port;
    if (!read_exact(bound_port, 2, result.error)) return result;
    result.bound += ":" + std::to_string((static_cast<unsigned char>(bound_port[0]) << 8) |
                                         static_cast<unsigned char>(bound_port[1]));
  } catch (const std::system_error& e) {
    result.error = e.what();
  }
  return result;
}

bool SocksClient::read_exact(std::string& out, std::size_t size, std::string& error) {
  out = receive_exact(size);
  if (out.size() == size) return true;
  error = "connection ended after " + std::to_string(out.size()) + " of " + std::to_string(size) +
          " expected bytes";
  return false;
}

void SocksClient::send(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "send");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string SocksClient::receive_exact(std::size_t size) {
  std::string out(size, '\0');
  std::size_t have = 0;
  while (have < size) {
    const ssize_t n = ::recv(fd_, out.data() + have, size - have, 0);
    if (n > 0) {
      have += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // eof, reset, or the guard expired
    }
  }
  out.resize(have);
  return out;
}

std::string SocksClient::receive_all() {
  std::string out;
  char buffer[16 * 1024];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return out;
    }
  }
}

bool SocksClient::wait_closed() {
  char buffer[4096];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) continue;
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return errno == ECONNRESET;
  }
}

void SocksClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void SocksClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// ---- JWTs ----

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out = base64_encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

RsaKeyPair generate_rsa_key_pair(int bits) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(static_cast<unsigned>(bits)),
                                                          &EVP_PKEY_free);
  if (!key) throw std::runtime_error(openssl_failure("RSA key generation"));
  auto to_pem = [&](bool private_part) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    const int written =
        private_part ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio.get(), key.get());
    if (written != 1) throw std::runtime_error(openssl_failure("PEM encoding"));
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  };
  return {to_pem(true), to_pem(false)};
}

std::string jwt_claims(std::string_view tenant, std::string_view audience, std::chrono::seconds valid_for,
                       std::string_view subject) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string claims = R"({"exp":)" + std::to_string(now + valid_for.count()) + R"(,"iat":)" +
                       std::to_string(now) + R"(,"aud":")" + std::string(audience) + R"(","tenant":")" +
                       std::string(tenant) + "\"";
  if (!subject.empty()) claims += R"(,"sub":")" + std::string(subject) + "\"";
  return claims + "}";
}

std::string mint_with_header(std::string_view header_json, std::string_view claims_json,
                             std::string_view secret) {
  const std::string input = base64url_encode(header_json) + "." + base64url_encode(claims_json);
  if (secret.empty()) return input + ".";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size) == nullptr) {
    throw std::runtime_error(openssl_failure("HMAC"));
  }
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), size));
}

std::string mint_hs256(std::string_view claims_json, std::string_view secret) {
  if (secret.empty()) throw std::invalid_argument("mint_hs256: empty secret");
  return mint_with_header(R"({"alg":"HS256","typ":"JWT"})", claims_json, secret);
}

std::string mint_rs256(std::string_view claims_json, const std::string& private_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) throw std::runtime_error(openssl_failure("reading the RSA private key"));
  const std::string input =
      base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url_encode(claims_json);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &size, data, input.size()) != 1) {
    throw std::runtime_error(openssl_failure("RS256 signing"));
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                     input.size()) != 1) {
    throw std::runtime_error(openssl_failure("RS256 signing"));
  }
  signature.resize(size);
  return input + "." + base64url_encode(signature);
}

}  // namespace gw::testing
