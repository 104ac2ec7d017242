#include "support/ldap_peers.hpp"

#include <csignal>

#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>

#include "support/http_peers.hpp"
#include "support/poll.hpp"
#include "support/tls_peer.hpp"

namespace gw::e2e {

namespace {

constexpr const char* kAdminPassword = "admin-secret";
constexpr const char* kServicePassword = "svc-secret";
constexpr std::size_t kRestricted = 3;
// A port taken by another process between free_port() and slapd's bind makes slapd exit; it is then
// started again on other ports.
constexpr int kStartAttempts = 5;

std::string under_suffix(const std::string& rdn) {
  return rdn + "," + Slapd::kSuffix;
}

// The socket inodes of the IPv4 listening sockets on local `port` (any address), from /proc/net/tcp.
std::set<std::string> listening_inodes(std::uint16_t port) {
  std::set<std::string> inodes;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (state == "0A" && local.size() > 5 && local.compare(local.size() - 5, 5, suffix) == 0) {
      inodes.insert(inode);
    }
  }
  return inodes;
}

// True when process `pid` itself holds a socket listening on `port`: a listener of another process that
// happened to take the port does not count.
bool listens_on(pid_t pid, std::uint16_t port) {
  const auto inodes = listening_inodes(port);
  if (inodes.empty()) return false;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code link_error;
    const std::string target = std::filesystem::read_symlink(it->path(), link_error).string();
    if (link_error || target.rfind("socket:[", 0) != 0) continue;
    if (inodes.count(target.substr(8, target.size() - 9))) return true;
  }
  return false;
}

// Two different ports that were free a moment ago.
std::pair<std::uint16_t, std::uint16_t> two_free_ports() {
  const std::uint16_t first = free_port();
  std::uint16_t second = free_port();
  while (second == first) second = free_port();
  return {first, second};
}

std::string seed_ldif(std::size_t people) {
  std::ostringstream out;
  out << "dn: " << Slapd::kSuffix << "\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
      << "o: Example\n\n";
  out << "dn: " << under_suffix("cn=svc") << "\nobjectClass: organizationalRole\n"
      << "objectClass: simpleSecurityObject\ncn: svc\ndescription: service account\nuserPassword: "
      << kServicePassword << "\n\n";
  out << "dn: " << under_suffix("ou=people") << "\nobjectClass: organizationalUnit\nou: people\n\n";
  for (std::size_t i = 0; i < people; ++i) {
    out << "dn: uid=user" << i << "," << under_suffix("ou=people")
        << "\nobjectClass: inetOrgPerson\nuid: user" << i << "\ncn: User " << i << "\nsn: Surname" << i
        << "\nmail: user" << i << "@example.com\ntelephoneNumber: +1 555 " << 1000 + i
        << "\nuserPassword: " << Slapd::person_password(i) << "\n\n";
  }
  out << "dn: " << under_suffix("ou=groups") << "\nobjectClass: organizationalUnit\nou: groups\n\n";
  out << "dn: " << under_suffix("cn=staff,ou=groups") << "\nobjectClass: groupOfNames\ncn: staff\n";
  // groupOfNames needs a member: an empty directory's staff group names the service account.
  if (people == 0) out << "member: " << under_suffix("cn=svc") << "\n";
  for (std::size_t i = 0; i < people; ++i)
    out << "member: uid=user" << i << "," << under_suffix("ou=people") << "\n";
  out << "\ndn: " << under_suffix("cn=admins,ou=groups")
      << "\nobjectClass: groupOfNames\ncn: admins\nmember: "
      << (people > 0 ? "uid=user0," + under_suffix("ou=people") : under_suffix("cn=svc")) << "\n\n";
  out << "dn: " << under_suffix("ou=restricted") << "\nobjectClass: organizationalUnit\nou: restricted\n\n";
  for (std::size_t i = 0; i < kRestricted; ++i) {
    out << "dn: uid=hidden" << i << "," << under_suffix("ou=restricted")
        << "\nobjectClass: inetOrgPerson\nuid: hidden" << i << "\ncn: Hidden " << i << "\nsn: Hidden" << i
        << "\nmail: hidden" << i << "@example.com\n\n";
  }
  return out.str();
}

}  // namespace

// ---- Slapd -----------------------------------------------------------------------------------------

Slapd::Slapd(std::size_t people) : Slapd(nullptr, people) {}
Slapd::Slapd(const TestPki& pki, std::size_t people) : Slapd(&pki, people) {}

Slapd::Slapd(const TestPki* pki, std::size_t people) : people_(people) {
  if (pki) {
    const auto tls_dir = dir_.path() / "tls";
    std::filesystem::create_directories(tls_dir);
    std::filesystem::copy_file(pki->ca_file(), tls_dir / "ca.pem");
    std::filesystem::copy_file(pki->server_cert_file(), tls_dir / "server.pem");
    std::filesystem::copy_file(pki->server_key_file(), tls_dir / "server.key");
    ca_file_ = tls_dir / "ca.pem";
  }
  write_config(pki != nullptr);
  seed();
  start(pki != nullptr);
}

Slapd::~Slapd() {
  if (process_) {
    process_->signal(SIGCONT);
    process_->terminate();
    if (!process_->wait_for_exit()) process_->kill();
  }
}

void Slapd::write_config(bool tls) {
  const std::string d = dir_.path().string();
  std::filesystem::create_directories(dir_.path() / "db");
  const std::string svc = service_dn();
  std::ostringstream conf;
  for (const char* schema : {"core", "cosine", "inetorgperson", "nis"}) {
    conf << "include /etc/ldap/schema/" << schema << ".schema\n";
  }
  conf << "pidfile " << d << "/slapd.pid\nargsfile " << d << "/slapd.args\n"
       << "modulepath /usr/lib/ldap\nmoduleload back_mdb\nloglevel 0\n";
  if (tls) {
    conf << "TLSCACertificateFile " << d << "/tls/ca.pem\nTLSCertificateFile " << d
         << "/tls/server.pem\nTLSCertificateKeyFile " << d << "/tls/server.key\n";
  }
  conf << "database mdb\nmaxsize 67108864\nsuffix \"" << kSuffix << "\"\nrootdn \"" << admin_dn()
       << "\"\nrootpw " << kAdminPassword << "\ndirectory " << d
       << "/db\n"
       // The first `access to` that matches an entry or attribute decides; the root DN bypasses them all.
       << "access to attrs=userPassword\n  by self write\n  by dn.exact=\"" << svc
       << "\" =w\n  by anonymous auth\n  by * none\n"
       << "access to dn.subtree=\"" << restricted_dn() << "\"\n  by dn.exact=\"" << svc
       << "\" write\n  by users read\n  by * none\n"
       << "access to *\n  by dn.exact=\"" << svc << "\" write\n  by * read\n";
  dir_.write("slapd.conf", conf.str());
}

void Slapd::seed() {
  const auto ldif = dir_.write("seed.ldif", seed_ldif(people_));
  // slapadd fills the database offline, before slapd opens it.
  const auto result =
      run_program({"slapadd", "-q", "-f", (dir_.path() / "slapd.conf").string(), "-l", ldif.string()});
  if (!result.status || !result.status->success()) {
    ADD_FAILURE() << "slapadd failed ("
                  << (result.status ? ::testing::PrintToString(*result.status) : "timeout")
                  << "): " << result.out << result.err;
  }
}

void Slapd::start(bool tls) {
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    if (tls) {
      std::tie(ldap_port_, ldaps_port_) = two_free_ports();
    } else {
      ldap_port_ = free_port();
    }
    std::string listeners = url() + "/";
    if (tls) listeners += " " + ldaps_url() + "/";
    process_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "slapd", "-f", (dir_.path() / "slapd.conf").string(), "-h", listeners, "-d", "0"});
    // slapd listens once its database is open.
    const pid_t pid = process_->pid();
    const bool ready = poll_until([&] {
      return !process_->running() || (listens_on(pid, ldap_port_) && (!tls || listens_on(pid, ldaps_port_)));
    });
    if (ready && process_->running()) return;
    if (!ready) break;  // running but not listening: no other ports would help
  }
  ADD_FAILURE() << "slapd did not start on 127.0.0.1:" << ldap_port_ << (tls ? " and :" : "")
                << (tls ? std::to_string(ldaps_port_) : "") << ": " << output() << "(slaptest: "
                << run_program({"slaptest", "-u", "-f", (dir_.path() / "slapd.conf").string()}).err << ")";
}

std::string Slapd::url() const {
  return "ldap://127.0.0.1:" + std::to_string(ldap_port_);
}
std::string Slapd::ldaps_url() const {
  return ldaps_port_ ? "ldaps://127.0.0.1:" + std::to_string(ldaps_port_) : "";
}
std::string Slapd::admin_dn() const {
  return under_suffix("cn=admin");
}
std::string Slapd::admin_password() const {
  return kAdminPassword;
}
std::string Slapd::service_dn() const {
  return under_suffix("cn=svc");
}
std::string Slapd::service_password() const {
  return kServicePassword;
}
std::string Slapd::people_dn() const {
  return under_suffix("ou=people");
}
std::string Slapd::groups_dn() const {
  return under_suffix("ou=groups");
}
std::string Slapd::restricted_dn() const {
  return under_suffix("ou=restricted");
}
std::string Slapd::person_dn(std::size_t i) const {
  return "uid=user" + std::to_string(i) + "," + people_dn();
}
std::string Slapd::person_password(std::size_t i) {
  return "user" + std::to_string(i) + "-secret";
}
std::size_t Slapd::restricted() const {
  return kRestricted;
}
std::vector<std::string> Slapd::service_bind_args() const {
  return {"-D", service_dn(), "-w", service_password()};
}
std::vector<std::string> Slapd::admin_bind_args() const {
  return {"-D", admin_dn(), "-w", admin_password()};
}
std::vector<std::string> Slapd::tls_args() const {
  if (ca_file_.empty()) return {};
  return ldap_tls_args(ca_file_);
}
std::string Slapd::output() const {
  return process_ ? process_->text() : std::string();
}

void Slapd::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void Slapd::resume() {
  if (process_) process_->signal(SIGCONT);
}

// ---- command-line clients ----------------------------------------------------------------------------

CommandResult ldap_tool(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  // run_program passes the test's own environment on: `env` adds to it.
  std::vector<std::string> command{"env", "LDAPNOINIT=1"};
  command.insert(command.end(), argv.begin(), argv.end());
  return run_program(command, timeout);
}

std::vector<std::string> ldap_tls_args(const std::filesystem::path& ca_file) {
  return {"-o", "TLS_CACERT=" + ca_file.string(), "-o", "TLS_REQCERT=demand"};
}

namespace {

CommandResult run_client(const char* program, const std::string& url, std::vector<std::string> own,
                         const std::vector<std::string>& args) {
  std::vector<std::string> argv{program, "-x", "-H", url};
  argv.insert(argv.end(), own.begin(), own.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return ldap_tool(argv);
}

CommandResult run_change(const char* program, const std::string& url, const std::vector<std::string>& args,
                         std::string_view ldif) {
  TempDir dir;
  const auto file = dir.write("changes.ldif", ldif);
  std::vector<std::string> with_file = args;
  with_file.push_back("-f");
  with_file.push_back(file.string());
  return run_client(program, url, {}, with_file);
}

}  // namespace

CommandResult ldapsearch(const std::string& url, const std::vector<std::string>& args) {
  return run_client("ldapsearch", url, {"-LLL", "-o", "ldif_wrap=no"}, args);
}

CommandResult ldapwhoami(const std::string& url, const std::vector<std::string>& args) {
  return run_client("ldapwhoami", url, {}, args);
}

CommandResult ldapmodify(const std::string& url, const std::vector<std::string>& args,
                         std::string_view ldif) {
  return run_change("ldapmodify", url, args, ldif);
}

CommandResult ldapadd(const std::string& url, const std::vector<std::string>& args, std::string_view ldif) {
  return run_change("ldapadd", url, args, ldif);
}

CommandResult ldappasswd(const std::string& url, const std::vector<std::string>& args) {
  return run_client("ldappasswd", url, {}, args);
}

// ---- LDIF -----------------------------------------------------------------------------------------------

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Standard alphabet, padding optional; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  std::size_t padding = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

// The logical lines of LDIF text: folded lines (a continuation starts with one space) joined, line
// ends (LF or CRLF) removed.
std::vector<std::string> unfolded_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == ' ' && !lines.empty() && !lines.back().empty()) {
      lines.back().append(line.substr(1));
    } else {
      lines.emplace_back(line);
    }
    start = end + 1;
  }
  return lines;
}

}  // namespace

std::vector<std::string> LdifEntry::values(std::string_view type) const {
  std::vector<std::string> found;
  for (const auto& [name, value] : attributes) {
    if (equal_ignoring_case(name, type)) found.push_back(value);
  }
  return found;
}

std::ostream& operator<<(std::ostream& out, const LdifEntry& entry) {
  out << "dn: " << entry.dn << "\n";
  for (const auto& [type, value] : entry.attributes) out << type << ": " << value << "\n";
  return out;
}

std::vector<LdifEntry> parse_ldif(std::string_view text) {
  std::vector<LdifEntry> entries;
  std::optional<LdifEntry> current;
  bool first_record = true;
  auto finish = [&] {
    if (current && !current->dn.empty()) {
      std::sort(current->attributes.begin(), current->attributes.end());
      entries.push_back(std::move(*current));
    }
    current.reset();
  };
  for (const auto& line : unfolded_lines(text)) {
    if (line.empty()) {
      if (current) first_record = false;
      finish();
      continue;
    }
    if (line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    std::string type = line.substr(0, colon);
    std::string_view rest = std::string_view(line).substr(colon + 1);
    std::string value;
    if (!rest.empty() && rest.front() == ':') {
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      auto decoded = base64_decode(rest);
      value = decoded ? std::move(*decoded) : std::string(rest);
    } else {
      // "type: value" and "type:< URL" alike keep what follows the separator.
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      value = std::string(rest);
    }
    if (!current) {
      // A file may start with "version: 1" on a line of its own, before the first record.
      if (first_record && equal_ignoring_case(type, "version")) continue;
      current.emplace();
      if (equal_ignoring_case(type, "dn")) {
        current->dn = std::move(value);
        continue;
      }
      // A record that does not start with a DN (ldapsearch's "search:"/"result:" trailer) is skipped.
    }
    if (current->dn.empty()) continue;
    current->attributes.emplace_back(std::move(type), std::move(value));
  }
  finish();
  std::sort(entries.begin(), entries.end(),
            [](const LdifEntry& a, const LdifEntry& b) { return a.dn < b.dn; });
  return entries;
}

std::vector<std::string> ldif_dns(std::string_view text) {
  std::vector<std::string> dns;
  for (auto& entry : parse_ldif(text)) dns.push_back(std::move(entry.dn));
  return dns;
}

}  // namespace gw::e2e
