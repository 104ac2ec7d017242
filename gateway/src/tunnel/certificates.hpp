// Certificates for the tunnel's mutual TLS: a CA, edge server certificates and connector client
// certificates, minted with OpenSSL and returned as PEM text.
//
// Every key is ECDSA P-256 and every certificate is signed with SHA-256, has a random 128-bit serial
// number and is valid from five minutes ago (tolerating clock skew between hosts) for `days` days.
//
//   CA         basicConstraints critical CA:TRUE, pathlen:0; keyUsage critical keyCertSign, cRLSign
//   edge       basicConstraints critical CA:FALSE; keyUsage critical digitalSignature;
//              extendedKeyUsage serverAuth; DNS and IP subject alternative names
//   connector  the same with extendedKeyUsage clientAuth and the identity's URI SAN (identity.hpp)
//
// Leaf certificates carry subjectKeyIdentifier and authorityKeyIdentifier. A CA revokes certificates
// with a CRL (make_crl): version 2, a crlNumber, signed with SHA-256. Failures throw
// std::runtime_error saying what was wrong with the input, or which OpenSSL step failed and why.
//
// The PEM helpers at the end are shared with the TLS context builders (tunnel_tls.hpp).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/identity.hpp"

namespace gw::tunnel {

// A certificate and its private key (unencrypted PKCS#8), both PEM.
struct Pem {
  std::string cert;
  std::string key;
};

// Validity is 1 day to 100 years.
inline constexpr int kMaxCertificateDays = 36500;

// A self-signed CA. `common_name`: 1-64 characters.
Pem make_ca(std::string common_name, int days);

// An edge server certificate signed by `ca`, for at least one DNS name or IP address. DNS names are
// host names of letters, digits and '-' labels (a leading "*." wildcard label is allowed); IP
// addresses are IPv4 or IPv6 literals. The subject's common name is the first name.
Pem make_edge_cert(const Pem& ca, const std::vector<std::string>& dns_names,
                   const std::vector<std::string>& ips, int days);

// A connector client certificate signed by `ca`, carrying `identity` (checked against the naming
// rules) as its one gatewayd://connector/ URI SAN.
Pem make_connector_cert(const Pem& ca, const ConnectorIdentity& identity, int days);

// PEM text and how errors name it ("certificate certs/connector.pem").
struct NamedPem {
  std::string what;
  std::string pem;
};

// A certificate revocation list of `ca`, valid from now for `days` days (its nextUpdate): the
// certificates revoked by `previous` (an earlier CRL of `ca`; empty text for none) and the certificates
// in `revoked` (each text one or more certificates issued by `ca`). Throws std::runtime_error, naming
// the input, for a certificate or an earlier CRL that `ca` did not issue.
std::string make_crl(const Pem& ca, const NamedPem& previous, const std::vector<NamedPem>& revoked, int days);

// ---- PEM and OpenSSL helpers ------------------------------------------------------------------------

struct X509Free {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

struct X509CrlFree {
  void operator()(X509_CRL* crl) const noexcept { X509_CRL_free(crl); }
};
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlFree>;

// The reason for the oldest error in this thread's OpenSSL error queue (which is then cleared),
// e.g. "no start line"; "unknown error" if the queue is empty.
std::string openssl_error_reason();

// Every certificate in `pem`, in order (at least one). `what` names the source in errors:
// "cannot read <what>: no certificate found".
std::vector<X509Ptr> parse_certificates(std::string_view pem, const std::string& what);

// Every CRL in `pem`, in order (at least one), the same way: "cannot read <what>: no CRL found".
std::vector<X509CrlPtr> parse_crls(std::string_view pem, const std::string& what);

// The first private key in `pem` (other PEM blocks are skipped). Encrypted keys are refused.
EvpPkeyPtr parse_private_key(std::string_view pem, const std::string& what);

// The whole content of `file`: "cannot read <what>: No such file or directory" when it cannot.
std::string read_text_file(const std::string& file, const std::string& what);

}  // namespace gw::tunnel
