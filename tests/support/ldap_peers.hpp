// LDAP peers for the end-to-end tests: a real OpenLDAP slapd started by the test with a small directory
// of its own, the OpenLDAP command-line clients (ldapsearch, ldapmodify, ldapadd, ldapwhoami) run as
// child processes against any ldap:// or ldaps:// URL, and an LDIF reader that turns their output into
// something a test can compare.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/child_process.hpp"
#include "support/gateway_process.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {

class TestPki;

// slapd (back_mdb) in the foreground on 127.0.0.1: plain LDAP on ldap_port() and, when given a TestPki,
// LDAPS on ldaps_port() and StartTLS on ldap_port(), with the PKI's server certificate (localhost,
// 127.0.0.1), each on a port that was free (slapd cannot pick one itself: when another process takes a
// port first, slapd is started again on others). The constructor returns once slapd itself listens on
// its ports, the directory already filled (or records a test failure with slapd's output); the
// destructor stops slapd.
//
// The directory under suffix() "dc=example,dc=com":
//   cn=svc                      the service account (simpleSecurityObject), service_password()
//   ou=people                   people() inetOrgPerson entries uid=user0..user<N-1>, each with cn
//                               "User <i>", sn "Surname<i>", mail "user<i>@example.com",
//                               telephoneNumber "+1 555 <1000 + i>" and userPassword
//                               person_password(i)
//   ou=groups                   groupOfNames cn=staff (every person) and cn=admins (user0)
//   ou=restricted               restricted() inetOrgPerson entries uid=hidden0..
// The root DN admin_dn() (no entry of its own) binds with admin_password().
//
// Access control:
//   userPassword      its entry may change it (self write), the service account may replace it without
//                     reading it, anonymous clients may bind with it; nobody else can read it
//   ou=restricted     the whole subtree readable by authenticated clients only; anonymous ones do not
//                     see it at all (a search based there answers noSuchObject)
//   everything else   readable by anyone
//   the service account may write everything (userPassword without reading it); the root DN is above
//   every rule
class Slapd {
 public:
  // Plain LDAP only.
  explicit Slapd(std::size_t people = 20);
  // Plain LDAP with StartTLS, and LDAPS. The PKI's files are copied: it need not outlive the server.
  explicit Slapd(const TestPki& pki, std::size_t people = 20);
  ~Slapd();
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

  std::uint16_t ldap_port() const { return ldap_port_; }
  std::uint16_t ldaps_port() const { return ldaps_port_; }  // 0 without TLS
  std::string url() const;                                  // "ldap://127.0.0.1:PORT"
  std::string ldaps_url() const;                            // "ldaps://127.0.0.1:PORT"; "" without TLS

  static constexpr const char* kSuffix = "dc=example,dc=com";
  std::string suffix() const { return kSuffix; }
  std::string admin_dn() const;
  std::string admin_password() const;
  std::string service_dn() const;
  std::string service_password() const;
  std::string people_dn() const;      // ou=people,<suffix>
  std::string groups_dn() const;      // ou=groups,<suffix>
  std::string restricted_dn() const;  // ou=restricted,<suffix>

  std::size_t people() const { return people_; }
  std::string person_dn(std::size_t i) const;  // uid=user<i>,ou=people,<suffix>
  static std::string person_password(std::size_t i);
  std::size_t restricted() const;  // entries below ou=restricted (the ou itself not counted)

  // "-D DN -w PASSWORD" for a client tool, as the service account or the root DN.
  std::vector<std::string> service_bind_args() const;
  std::vector<std::string> admin_bind_args() const;
  // What a client tool needs to talk TLS to this server (ldaps_url(), or url() with -ZZ): trust its CA
  // and demand a valid certificate. Empty without TLS.
  std::vector<std::string> tls_args() const;

  // slapd's output so far (it logs little: `loglevel 0`).
  std::string output() const;

  // Stops the server (SIGSTOP) and lets it go on (SIGCONT): connections stay open, nothing is answered
  // meanwhile. The destructor lets a paused server go on before it ends it.
  void pause();
  void resume();

 private:
  Slapd(const TestPki* pki, std::size_t people);
  void write_config(bool tls);
  void seed();
  void start(bool tls);

  TempDir dir_;
  std::size_t people_ = 0;
  std::filesystem::path ca_file_;  // empty without TLS
  std::uint16_t ldap_port_ = 0;
  std::uint16_t ldaps_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// ---- command-line clients -------------------------------------------------------------------------

// Runs an OpenLDAP client tool (argv[0] is the program, e.g. "ldapsearch") to completion, with
// LDAPNOINIT=1 in its environment so that neither /etc/ldap/ldap.conf nor ~/.ldaprc nor LDAP*
// variables change what it does. LDAPNOINIT also turns the LDAPTLS_* variables off: TLS settings go on
// the command line as `-o TLS_CACERT=FILE` and the like (ldap_tls_args).
CommandResult ldap_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = kGuard);

// `-o TLS_CACERT=<ca_file> -o TLS_REQCERT=demand`: verify the server's certificate against `ca_file`.
std::vector<std::string> ldap_tls_args(const std::filesystem::path& ca_file);

// The tools with simple authentication against `url`, then `args` (bind options, TLS options, -ZZ,
// and for ldapsearch -b BASE, -s SCOPE, the filter and the attributes). Without -D they bind
// anonymously. Exit code 0 is success; other codes are the LDAP result code (8 strongerAuthRequired:
// slapd's answer to an anonymous write, 32 noSuchObject, 49 invalidCredentials, 50
// insufficientAccessRights) or a client failure (255: no server, or a TLS handshake that failed).
//   ldapsearch:  `ldapsearch -x -H URL -LLL -o ldif_wrap=no ARGS...`: LDIF on stdout, no comments
CommandResult ldapsearch(const std::string& url, const std::vector<std::string>& args);
//   ldapwhoami:  `ldapwhoami -x -H URL ARGS...`: "dn:<bound DN>" or "anonymous" on stdout
CommandResult ldapwhoami(const std::string& url, const std::vector<std::string>& args);
//   ldapmodify / ldapadd: `ldapmodify -x -H URL ARGS... -f FILE` with `ldif` (change records; for
//   ldapadd plain entries) written to FILE
CommandResult ldapmodify(const std::string& url, const std::vector<std::string>& args, std::string_view ldif);
CommandResult ldapadd(const std::string& url, const std::vector<std::string>& args, std::string_view ldif);
//   ldappasswd:  `ldappasswd -x -H URL ARGS...`: the password modify extended operation (RFC 3062);
//   ARGS end with the identity whose password changes (none: the bound user's own); a refusal
//   exits 1 with "Result: <text> (<code>)" on stdout
CommandResult ldappasswd(const std::string& url, const std::vector<std::string>& args);

// ---- LDIF ---------------------------------------------------------------------------------------------

// One entry of a search result as LDIF describes it.
struct LdifEntry {
  std::string dn;
  // (type, value) as written, values of "type:: BASE64" decoded; sorted, so that two results with the
  // same content compare equal whatever order the server sent them in.
  std::vector<std::pair<std::string, std::string>> attributes;

  // The values of attribute `type` (compared without regard to case), in sorted order.
  std::vector<std::string> values(std::string_view type) const;
  bool has(std::string_view type) const { return !values(type).empty(); }
  friend bool operator==(const LdifEntry&, const LdifEntry&) = default;
};
std::ostream& operator<<(std::ostream& out, const LdifEntry& entry);

// The entries of LDIF text (ldapsearch output, with or without -LLL), sorted by DN. Folded lines are
// joined; comments, the "version:" line and records without a DN (ldapsearch's "search:"/"result:"
// trailer) are skipped. Malformed lines are skipped, never fatal.
std::vector<LdifEntry> parse_ldif(std::string_view text);
// Only the DNs of parse_ldif(text), sorted.
std::vector<std::string> ldif_dns(std::string_view text);

}  // namespace gw::e2e
