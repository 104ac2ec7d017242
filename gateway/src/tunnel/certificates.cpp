#include "tunnel/certificates.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace gw::tunnel {
namespace {

constexpr long kBackdateSeconds = 5 * 60;

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

[[noreturn]] void fail_openssl(const std::string& step) {
  throw std::runtime_error("cannot mint certificate: " + step + ": " + openssl_error_reason());
}

void require(bool ok, const char* step) {
  if (!ok) fail_openssl(step);
}

void check_days(int days) {
  if (days < 1 || days > kMaxCertificateDays) {
    throw std::runtime_error("certificate validity must be 1 to " + std::to_string(kMaxCertificateDays) +
                             " days, got " + std::to_string(days));
  }
}

EvpPkeyPtr make_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  require(key != nullptr, "generating a P-256 key");
  return key;
}

// A positive serial number of 128 random bits (RFC 5280 §4.1.2.2 allows up to 20 octets).
void set_random_serial(X509* cert) {
  unsigned char bytes[16];
  require(RAND_bytes(bytes, sizeof bytes) == 1, "random serial number");
  bytes[sizeof bytes - 1] |= 1;  // never zero
  std::unique_ptr<BIGNUM, decltype(&BN_free)> number(BN_bin2bn(bytes, sizeof bytes, nullptr), BN_free);
  require(number != nullptr, "serial number");
  require(BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) != nullptr, "serial number");
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  require(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(value.data()),
                                     static_cast<int>(value.size()), -1, 0) == 1,
          "subject name");
}

// A certificate for `key` with `subject_cn` (plus `subject_ou` if not empty), valid for `days`, not yet
// signed and without extensions. Issuer: `issuer` or, when null, itself.
X509Ptr new_certificate(EVP_PKEY* key, const std::string& subject_cn, const std::string& subject_ou, int days,
                        X509* issuer) {
  X509Ptr cert(X509_new());
  require(cert != nullptr, "X509_new");
  X509* c = cert.get();
  require(X509_set_version(c, X509_VERSION_3) == 1, "version");
  set_random_serial(c);
  require(X509_gmtime_adj(X509_getm_notBefore(c), -kBackdateSeconds) != nullptr, "notBefore");
  require(X509_time_adj_ex(X509_getm_notAfter(c), days, 0, nullptr) != nullptr, "notAfter");
  X509_NAME* name = X509_get_subject_name(c);
  add_name_entry(name, "CN", subject_cn);
  if (!subject_ou.empty()) add_name_entry(name, "OU", subject_ou);
  require(X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1, "issuer name");
  require(X509_set_pubkey(c, key) == 1, "public key");
  return cert;
}

// An extension from its OpenSSL configuration text; only fixed texts are passed here, names go
// through add_alt_names so that no input is ever parsed as configuration.
void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  require(extension != nullptr, OBJ_nid2sn(nid));
  const bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  require(added, OBJ_nid2sn(nid));
}

void push_name(GENERAL_NAMES* names, int type, std::string_view text) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  require(name != nullptr, "subjectAltName");
  ASN1_STRING* value = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (value == nullptr || ASN1_STRING_set(value, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_STRING_free(value);
    GENERAL_NAME_free(name);
    fail_openssl("subjectAltName");
  }
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    fail_openssl("subjectAltName");
  }
}

void add_alt_names(X509* cert, const GENERAL_NAMES* names) {
  require(X509_add1_ext_i2d(cert, NID_subject_alt_name, const_cast<GENERAL_NAMES*>(names), 0,
                            X509V3_ADD_DEFAULT) == 1,
          "subjectAltName");
}

void sign(X509* cert, EVP_PKEY* key) {
  require(X509_sign(cert, key, EVP_sha256()) > 0, "signing");
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  require(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "writing the certificate");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  require(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "writing the private key");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// The CA's certificate and key, checked to be a CA and a matching pair.
struct Issuer {
  X509Ptr cert;
  EvpPkeyPtr key;
};

Issuer load_issuer(const Pem& ca) {
  auto certs = parse_certificates(ca.cert, "CA certificate");
  Issuer issuer{std::move(certs.front()), parse_private_key(ca.key, "CA key")};
  if (X509_check_ca(issuer.cert.get()) == 0) {
    throw std::runtime_error("the CA certificate is not a CA certificate (no basicConstraints CA:TRUE)");
  }
  if (X509_check_private_key(issuer.cert.get(), issuer.key.get()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("the CA certificate and the CA key do not match");
  }
  return issuer;
}

// A host name of letter/digit/'-' labels, each 1-63 long, not starting or ending with '-', 253 at
// most in all; the first label may be "*".
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  bool first = true;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63) return false;
    const bool wildcard = first && label == "*" && end != name.size();
    if (!wildcard) {
      if (label.front() == '-' || label.back() == '-') return false;
      for (char c : label) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
      }
    }
    first = false;
    start = end + 1;
  }
  return true;
}

// `text` in quotes for messages: at most 100 bytes, control and non-ASCII bytes as '?'.
std::string quote_input(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 100)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (text.size() > 100 ? "...\"" : "\"");
}

Pem issue_leaf(const Issuer& ca, const std::string& cn, const std::string& ou, int days, const char* usage,
               const GENERAL_NAMES* names) {
  EvpPkeyPtr key = make_key();
  X509Ptr cert = new_certificate(key.get(), cn, ou, days, ca.cert.get());
  X509* c = cert.get();
  add_extension(c, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(c, ca.cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(c, ca.cert.get(), NID_ext_key_usage, usage);
  add_extension(c, ca.cert.get(), NID_subject_key_identifier, "hash");
  add_extension(c, ca.cert.get(), NID_authority_key_identifier, "keyid:always");
  add_alt_names(c, names);
  sign(c, ca.key.get());
  return {to_pem(c), to_pem(key.get())};
}

}  // namespace

std::string openssl_error_reason() {
  const char* data = nullptr;
  int flags = 0;
  const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
  ERR_clear_error();
  if (code == 0) return "unknown error";
  std::string text;
  if (const char* reason = ERR_reason_error_string(code)) {
    text = reason;
  } else {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  if (data != nullptr && (flags & ERR_TXT_STRING) && *data != '\0') text += std::string(" (") + data + ")";
  return text;
}

namespace {

// Every `kind` block of `pem` (PEM_read_bio_X509 or PEM_read_bio_X509_CRL as `read`), at least one.
template <class Ptr, class Read>
std::vector<Ptr> parse_blocks(std::string_view pem, const std::string& what, Read read, const char* kind,
                              const char* begin_line) {
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::runtime_error("cannot read " + what + ": " + openssl_error_reason());
  std::vector<Ptr> blocks;
  while (auto* block = read(bio.get(), nullptr, nullptr, nullptr)) blocks.emplace_back(block);
  // The loop ends at the end of the input ("no start line") or at a block that does not decode.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    if (blocks.empty()) {
      throw std::runtime_error("cannot read " + what + ": no " + kind + " found (expected " + begin_line +
                               ")");
    }
    return blocks;
  }
  throw std::runtime_error("cannot read " + what + ": " + kind + " " + std::to_string(blocks.size() + 1) +
                           " is malformed: " + openssl_error_reason());
}

}  // namespace

std::vector<X509Ptr> parse_certificates(std::string_view pem, const std::string& what) {
  return parse_blocks<X509Ptr>(pem, what, PEM_read_bio_X509, "certificate", "-----BEGIN CERTIFICATE-----");
}

std::vector<X509CrlPtr> parse_crls(std::string_view pem, const std::string& what) {
  return parse_blocks<X509CrlPtr>(pem, what, PEM_read_bio_X509_CRL, "CRL", "-----BEGIN X509 CRL-----");
}

EvpPkeyPtr parse_private_key(std::string_view pem, const std::string& what) {
  // OpenSSL 3's decoders say only "unsupported" for text without a key, so look first: any
  // "-----BEGIN ... PRIVATE KEY-----" line (PKCS#8, EC, RSA, encrypted).
  bool found = false;
  for (auto begin = pem.find("-----BEGIN "); begin != std::string_view::npos && !found;
       begin = pem.find("-----BEGIN ", begin + 1)) {
    const auto end = pem.find('\n', begin);
    std::string_view line =
        pem.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    if (line.ends_with('\r')) line.remove_suffix(1);
    found = line.ends_with("PRIVATE KEY-----");
  }
  if (!found) {
    throw std::runtime_error("cannot read " + what +
                             ": no private key found (expected -----BEGIN PRIVATE KEY-----)");
  }
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    throw std::runtime_error("cannot read " + what +
                             ": the private key is encrypted (only unencrypted keys are supported)");
  }
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::runtime_error("cannot read " + what + ": " + openssl_error_reason());
  // A password callback that declines, so that OpenSSL never prompts on the terminal.
  auto no_password = [](char*, int, int, void*) -> int { return -1; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!key) {
    throw std::runtime_error("cannot read " + what +
                             ": the private key is malformed or of an unsupported type (" +
                             openssl_error_reason() + ")");
  }
  ERR_clear_error();
  return key;
}

std::string read_text_file(const std::string& file, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw std::runtime_error("cannot read " + what + ": it is a directory");
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw std::runtime_error("cannot read " + what + ": " + (err != 0 ? std::strerror(err) : "cannot open"));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + what + ": read error");
  return content.str();
}

Pem make_ca(std::string common_name, int days) {
  check_days(days);
  if (common_name.empty() || common_name.size() > 64) {
    throw std::runtime_error("the CA's common name must be 1 to 64 characters, got " +
                             quote_input(common_name));
  }
  EvpPkeyPtr key = make_key();
  X509Ptr cert = new_certificate(key.get(), common_name, "", days, nullptr);
  X509* c = cert.get();
  add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(c, c, NID_subject_key_identifier, "hash");
  sign(c, key.get());
  return {to_pem(c), to_pem(key.get())};
}

Pem make_edge_cert(const Pem& ca, const std::vector<std::string>& dns_names,
                   const std::vector<std::string>& ips, int days) {
  check_days(days);
  if (dns_names.empty() && ips.empty()) {
    throw std::runtime_error("an edge certificate needs at least one DNS name or IP address");
  }
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  require(names != nullptr, "subjectAltName");
  for (const auto& name : dns_names) {
    if (!is_dns_name(name)) {
      throw std::runtime_error("invalid DNS name " + quote_input(name) +
                               " (expected labels of letters, digits and '-', e.g. edge.example.com)");
    }
    push_name(names.get(), GEN_DNS, name);
  }
  for (const auto& ip : ips) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(ip, ec);
    if (ec) throw std::runtime_error("invalid IP address " + quote_input(ip));
    if (address.is_v4()) {
      const auto bytes = address.to_v4().to_bytes();
      push_name(names.get(), GEN_IPADD,
                std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    } else {
      const auto bytes = address.to_v6().to_bytes();
      push_name(names.get(), GEN_IPADD,
                std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
  }
  const Issuer issuer = load_issuer(ca);
  const std::string cn = (dns_names.empty() ? ips.front() : dns_names.front()).substr(0, 64);
  return issue_leaf(issuer, cn, "", days, "serverAuth", names.get());
}

Pem make_connector_cert(const Pem& ca, const ConnectorIdentity& identity, int days) {
  check_days(days);
  if (!is_tenant_name(identity.tenant)) {
    throw std::runtime_error(
        "invalid tenant " + quote_input(identity.tenant) +
        ": expected 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter "
        "or digit");
  }
  if (!is_location_id(identity.location)) {
    throw std::runtime_error("invalid location " + quote_input(identity.location) +
                             ": expected up to 64 letters, digits, '.', '_' or '-'");
  }
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  require(names != nullptr, "subjectAltName");
  push_name(names.get(), GEN_URI, identity_uri(identity));
  const Issuer issuer = load_issuer(ca);
  return issue_leaf(issuer, identity.tenant, identity.location, days, "clientAuth", names.get());
}

std::string make_crl(const Pem& ca, const NamedPem& previous, const std::vector<NamedPem>& revoked,
                     int days) {
  check_days(days);
  const Issuer issuer = load_issuer(ca);
  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
  require(crl != nullptr, "X509_CRL_new");
  X509_CRL* c = crl.get();
  require(X509_CRL_set_version(c, X509_CRL_VERSION_2) == 1, "CRL version");
  require(X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer.cert.get())) == 1, "CRL issuer");
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(X509_gmtime_adj(nullptr, -kBackdateSeconds),
                                                            ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(X509_time_adj_ex(nullptr, days, 0, nullptr),
                                                             ASN1_TIME_free);
  require(now && next && X509_CRL_set1_lastUpdate(c, now.get()) == 1 &&
              X509_CRL_set1_nextUpdate(c, next.get()) == 1,
          "CRL dates");
  std::set<std::string> serials;  // each serial once, as its hex text
  auto listed = [&serials](const ASN1_INTEGER* serial) {
    std::unique_ptr<BIGNUM, decltype(&BN_free)> number(ASN1_INTEGER_to_BN(serial, nullptr), BN_free);
    require(number != nullptr, "serial number");
    std::unique_ptr<char, void (*)(char*)> hex(BN_bn2hex(number.get()), [](char* p) { OPENSSL_free(p); });
    require(hex != nullptr, "serial number");
    return !serials.insert(hex.get()).second;
  };
  if (!previous.pem.empty()) {
    for (const auto& earlier : parse_crls(previous.pem, previous.what)) {
      if (X509_CRL_verify(earlier.get(), issuer.key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error(previous.what + " was not issued by this CA");
      }
      STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(earlier.get());
      for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
        X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
        if (listed(X509_REVOKED_get0_serialNumber(entry))) continue;
        X509_REVOKED* copy = X509_REVOKED_dup(entry);
        require(copy != nullptr && X509_CRL_add0_revoked(c, copy) == 1, "CRL entry");
      }
    }
  }
  for (const NamedPem& input : revoked) {
    for (const auto& cert : parse_certificates(input.pem, input.what)) {
      if (X509_check_issued(issuer.cert.get(), cert.get()) != X509_V_OK ||
          X509_verify(cert.get(), issuer.key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error(input.what + " was not issued by this CA");
      }
      if (listed(X509_get0_serialNumber(cert.get()))) continue;
      X509_REVOKED* entry = X509_REVOKED_new();
      const bool added =
          entry != nullptr && X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(cert.get())) == 1 &&
          X509_REVOKED_set_revocationDate(entry, now.get()) == 1 && X509_CRL_add0_revoked(c, entry) == 1;
      if (!added) {
        X509_REVOKED_free(entry);
        fail_openssl("CRL entry");
      }
    }
  }
  // crlNumber (RFC 5280 5.2.3): increasing; the issuing time in seconds does.
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> number(ASN1_INTEGER_new(), ASN1_INTEGER_free);
  require(number &&
              ASN1_INTEGER_set_int64(number.get(), static_cast<std::int64_t>(std::time(nullptr))) == 1 &&
              X509_CRL_add1_ext_i2d(c, NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) == 1,
          "crlNumber");
  require(X509_CRL_sort(c) == 1, "sorting the CRL");
  require(X509_CRL_sign(c, issuer.key.get(), EVP_sha256()) > 0, "signing the CRL");
  BioPtr bio(BIO_new(BIO_s_mem()));
  require(bio && PEM_write_bio_X509_CRL(bio.get(), c) == 1, "writing the CRL");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace gw::tunnel
