#include "cli/certs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tunnel/certificates.hpp"
#include "tunnel/identity.hpp"

namespace gw::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kDefaultCaDays = 3650;
constexpr int kDefaultLeafDays = 825;
constexpr int kDefaultCrlDays = 30;

constexpr const char* kCertsHelp = R"(usage: gatewayd certs COMMAND [OPTIONS]

Creates the certificates of the tunnel between edges and connectors: a CA, edge server
certificates and connector client certificates (ECDSA P-256, SHA-256).

Commands:
  ca         a new CA                                  -> DIR/ca.pem, DIR/ca.key
  edge       an edge server certificate                -> DIR/edge.pem, DIR/edge.key
  connector  a connector certificate with its identity -> DIR/connector.pem, DIR/connector.key
  revoke     a CRL revoking certificates of the CA      -> DIR/crl.pem

Existing files are not replaced unless --force is given. Private keys are written with mode 0600
and are not encrypted: keep them on the host that uses them.
Run gatewayd certs COMMAND --help for the options of each command.
)";

constexpr const char* kCaHelp = R"(usage: gatewayd certs ca --out DIR [--days N] [--cn NAME] [--force]

Creates a CA: DIR/ca.pem (the certificate: ca_file of edges and connectors) and DIR/ca.key (its
private key, needed only to create more certificates).

Options:
  --out DIR    directory to write to (created if missing)
  --days N     validity in days (default 3650)
  --cn NAME    the CA's common name (default "gatewayd tunnel CA")
  --force      replace existing files
)";

constexpr const char* kEdgeHelp =
    R"(usage: gatewayd certs edge --ca DIR --out DIR --name NAME [--name NAME | --ip IP]... [OPTIONS]

Creates an edge's server certificate signed by the CA in DIR/ca.pem and DIR/ca.key:
DIR/edge.pem and DIR/edge.key (cert_file and key_file of the edge's tunnel section).
Connectors check the certificate against their server_name, so give every name and address
connectors dial. At least one --name or --ip is required.

Options:
  --ca DIR            directory holding ca.pem and ca.key
  --out DIR           directory to write to (created if missing)
  --name NAME         a DNS name of the edge, e.g. edge.example.com or *.edges.example.com (repeatable)
  --ip IP             an IPv4 or IPv6 address of the edge (repeatable)
  --days N            validity in days (default 825)
  --file-prefix NAME  file names NAME.pem and NAME.key (default "edge")
  --force             replace existing files
)";

constexpr const char* kConnectorHelp =
    R"(usage: gatewayd certs connector --ca DIR --out DIR --tenant T [--location L] [OPTIONS]

Creates a connector's client certificate signed by the CA in DIR/ca.pem and DIR/ca.key:
DIR/connector.pem and DIR/connector.key (cert_file and key_file of the connector section).
The certificate carries the connector's identity, gatewayd://connector/<tenant>/<location>: edges
route a destination's streams to connectors of the destination's tenant and location_id.

Options:
  --ca DIR            directory holding ca.pem and ca.key
  --out DIR           directory to write to (created if missing)
  --tenant T          1-64 lower-case letters, digits, '_' or '-', starting with a letter or digit
  --location L        0-64 letters, digits, '.', '_' or '-' (default: empty, the default location)
  --days N            validity in days (default 825)
  --file-prefix NAME  file names NAME.pem and NAME.key (default "connector")
  --force             replace existing files
)";

constexpr const char* kRevokeHelp =
    R"(usage: gatewayd certs revoke --ca DIR [--cert FILE]... [--days N] [--out FILE]

Writes a CRL signed by the CA in DIR/ca.pem and DIR/ca.key to FILE (default DIR/crl.pem: crl_file of
edges and connectors). It lists the certificates given with --cert and every certificate the CRL
already in FILE lists. Without --cert it issues that CRL again, valid from now.
A CRL is valid for --days days: issue it again before then, or edges and connectors refuse every
certificate of the CA. Edges and connectors read it at start-up and at each reload (SIGHUP), and
send away the tunnel connections of a peer it revokes.

Options:
  --ca DIR     directory holding ca.pem and ca.key
  --cert FILE  a certificate to revoke, e.g. DIR/connector.pem (repeatable)
  --days N     validity in days (default 30)
  --out FILE   the CRL to write (default DIR/crl.pem); replaced as a whole
)";

// Thrown for bad command lines (exit code 2); std::runtime_error is any other failure (exit code 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::map<std::string, std::string> values;              // single-valued options, without "--"
  std::map<std::string, std::vector<std::string>> lists;  // repeatable options
  bool force = false;

  std::optional<std::string> get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::nullopt : std::optional(it->second);
  }
  std::string require(const std::string& name) const {
    auto value = get(name);
    if (!value) throw UsageError("--" + name + " is required");
    return *value;
  }
  std::vector<std::string> list(const std::string& name) const {
    auto it = lists.find(name);
    return it == lists.end() ? std::vector<std::string>{} : it->second;
  }
};

// Parses argv[first..] given the command's single-valued and repeatable options.
Args parse(int argc, char** argv, int first, const std::set<std::string>& single,
           const std::set<std::string>& repeatable) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--force") {
      args.force = true;
      continue;
    }
    if (!arg.starts_with("--")) throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const bool is_single = single.contains(name);
    if (!is_single && !repeatable.contains(name)) throw UsageError("unknown option '--" + name + "'");
    if (!value) {
      if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
      value = argv[++i];
    }
    if (is_single) {
      if (!args.values.emplace(name, *value).second)
        throw UsageError("--" + name + " is given more than once");
    } else {
      args.lists[name].push_back(*value);
    }
  }
  return args;
}

int days_option(const Args& args, int fallback) {
  auto text = args.get("days");
  if (!text) return fallback;
  const bool digits =
      !text->empty() && text->size() <= 6 && text->find_first_not_of("0123456789") == std::string::npos;
  const int days = digits ? std::stoi(*text) : 0;
  if (days < 1 || days > tunnel::kMaxCertificateDays) {
    throw UsageError("--days must be a whole number from 1 to " +
                     std::to_string(tunnel::kMaxCertificateDays) + ", got '" + *text + "'");
  }
  return days;
}

std::string prefix_option(const Args& args, const char* fallback) {
  std::string prefix = args.get("file-prefix").value_or(fallback);
  const bool ok =
      !prefix.empty() && prefix.size() <= 64 && prefix.front() != '.' &&
      prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
          std::string::npos;
  if (!ok) {
    throw UsageError(
        "--file-prefix must be 1-64 letters, digits, '.', '_' or '-', not starting with '.', got '" + prefix +
        "'");
  }
  return prefix;
}

// The CA in `dir` (ca.pem, ca.key), read and checked here so that errors name the files.
tunnel::Pem read_ca(const fs::path& dir) {
  const fs::path cert_file = dir / "ca.pem";
  const fs::path key_file = dir / "ca.key";
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    throw UsageError("--ca expects the directory holding ca.pem and ca.key, got the file " + dir.string());
  }
  const std::string hint = " (create a CA with: gatewayd certs ca --out " + dir.string() + ")";
  tunnel::Pem ca;
  try {
    ca.cert = tunnel::read_text_file(cert_file.string(), "CA certificate " + cert_file.string());
    ca.key = tunnel::read_text_file(key_file.string(), "CA key " + key_file.string());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(e.what() + hint);
  }
  tunnel::parse_certificates(ca.cert, "CA certificate " + cert_file.string());
  tunnel::parse_private_key(ca.key, "CA key " + key_file.string());
  return ca;
}

struct Output {
  fs::path path;
  std::string content;
  mode_t mode;
  std::string description;
};

void write_file(const Output& out, bool force) {
  if (force && ::unlink(out.path.c_str()) != 0 && errno != ENOENT) {
    throw std::runtime_error("cannot replace " + out.path.string() + ": " + std::strerror(errno));
  }
  // O_EXCL: never writes through an existing file or link, and a new key file is 0600 from the start.
  const int fd = ::open(out.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, out.mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST)
      throw std::runtime_error(out.path.string() + " already exists (use --force to replace it)");
    throw std::runtime_error("cannot create " + out.path.string() + ": " + std::strerror(err));
  }
  const char* data = out.content.data();
  std::size_t left = out.content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(out.path.c_str());
      throw std::runtime_error("cannot write " + out.path.string() + ": " + std::strerror(err));
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(out.path.c_str());
    throw std::runtime_error("cannot write " + out.path.string() + ": " + std::strerror(err));
  }
}

// Writes all outputs or none: existing files are reported before anything is written, and files
// written before a failure are removed again.
void write_outputs(const fs::path& dir, const std::vector<Output>& outputs, bool force) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create directory " + dir.string() + ": " + ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error(dir.string() + " is not a directory");
  }
  if (!force) {
    std::vector<std::string> existing;
    for (const auto& out : outputs) {
      if (fs::exists(fs::symlink_status(out.path, ec))) existing.push_back(out.path.string());
    }
    if (existing.size() == 1)
      throw std::runtime_error(existing[0] + " already exists (use --force to replace it)");
    if (existing.size() > 1) {
      throw std::runtime_error(existing[0] + " and " + existing[1] +
                               " already exist (use --force to replace them)");
    }
  }
  std::vector<fs::path> written;
  try {
    for (const auto& out : outputs) {
      write_file(out, force);
      written.push_back(out.path);
    }
  } catch (...) {
    for (const auto& path : written) fs::remove(path, ec);
    throw;
  }
}

void print_outputs(const std::vector<Output>& outputs) {
  for (const auto& out : outputs)
    std::cout << "  wrote " << out.path.string() << "  " << out.description << "\n";
}

std::vector<Output> leaf_outputs(const fs::path& dir, const std::string& prefix, const tunnel::Pem& pem,
                                 const char* config_section) {
  return {
      {dir / (prefix + ".pem"), pem.cert, 0644, std::string("certificate: cert_file of ") + config_section},
      {dir / (prefix + ".key"), pem.key, 0600,
       std::string("private key (mode 0600): key_file of ") + config_section}};
}

// The CA's files must not be among the outputs (--out equal to --ca with --file-prefix ca).
void refuse_overwriting_ca(const fs::path& ca_dir, const fs::path& dir, const std::string& prefix) {
  for (const char* extension : {".pem", ".key"}) {
    const fs::path out = dir / (prefix + extension);
    for (const char* name : {"ca.pem", "ca.key"}) {
      std::error_code ec1;
      std::error_code ec2;
      const fs::path a = fs::weakly_canonical(out, ec1);
      const fs::path b = fs::weakly_canonical(ca_dir / name, ec2);
      if (!ec1 && !ec2 && a == b)
        throw UsageError("refusing to write " + out.string() + ": it is the CA's own file");
    }
  }
}

int run_ca(const Args& args) {
  const fs::path dir = args.require("out");
  const int days = days_option(args, kDefaultCaDays);
  const std::string cn = args.get("cn").value_or("gatewayd tunnel CA");
  if (cn.empty() || cn.size() > 64) throw UsageError("--cn must be 1 to 64 characters");
  const auto ca = tunnel::make_ca(cn, days);
  std::vector<Output> outputs{
      {dir / "ca.pem", ca.cert, 0644, "CA certificate: ca_file of edges and connectors"},
      {dir / "ca.key", ca.key, 0600, "CA private key (mode 0600): signs edge and connector certificates"}};
  write_outputs(dir, outputs, args.force);
  std::cout << "created CA \"" << cn << "\", valid " << days << " days\n";
  print_outputs(outputs);
  return 0;
}

int run_edge(const Args& args) {
  const fs::path ca_dir = args.require("ca");
  const fs::path dir = args.require("out");
  const auto names = args.list("name");
  const auto ips = args.list("ip");
  if (names.empty() && ips.empty()) throw UsageError("at least one --name or --ip is required");
  const int days = days_option(args, kDefaultLeafDays);
  const std::string prefix = prefix_option(args, "edge");
  refuse_overwriting_ca(ca_dir, dir, prefix);
  const auto ca = read_ca(ca_dir);
  const auto pem = tunnel::make_edge_cert(ca, names, ips, days);
  const auto outputs = leaf_outputs(dir, prefix, pem, "the edge's tunnel section");
  write_outputs(dir, outputs, args.force);
  std::string sans;
  for (const auto& name : names) sans += (sans.empty() ? "DNS:" : ", DNS:") + name;
  for (const auto& ip : ips) sans += (sans.empty() ? "IP:" : ", IP:") + ip;
  std::cout << "created edge certificate for " << sans << ", valid " << days << " days, signed by "
            << (ca_dir / "ca.pem").string() << "\n";
  print_outputs(outputs);
  return 0;
}

int run_connector(const Args& args) {
  const fs::path ca_dir = args.require("ca");
  const fs::path dir = args.require("out");
  tunnel::ConnectorIdentity identity{args.require("tenant"), args.get("location").value_or("")};
  if (!tunnel::is_tenant_name(identity.tenant)) {
    throw UsageError(
        "invalid --tenant '" + identity.tenant +
        "': a tenant is 1-64 lower-case letters, digits, '_' or '-', starting with a letter or digit");
  }
  if (!tunnel::is_location_id(identity.location)) {
    throw UsageError("invalid --location '" + identity.location +
                     "': a location is 0-64 letters, digits, '.', '_' or '-'");
  }
  const int days = days_option(args, kDefaultLeafDays);
  const std::string prefix = prefix_option(args, "connector");
  refuse_overwriting_ca(ca_dir, dir, prefix);
  const auto ca = read_ca(ca_dir);
  const auto pem = tunnel::make_connector_cert(ca, identity, days);
  const auto outputs = leaf_outputs(dir, prefix, pem, "the connector section");
  write_outputs(dir, outputs, args.force);
  std::cout << "created connector certificate for " << tunnel::identity_uri(identity) << " (tenant "
            << identity.tenant << ", location " << (identity.location.empty() ? "\"\"" : identity.location)
            << "), valid " << days << " days, signed by " << (ca_dir / "ca.pem").string() << "\n";
  print_outputs(outputs);
  return 0;
}

int run_revoke(const Args& args) {
  const fs::path ca_dir = args.require("ca");
  const fs::path out = args.get("out").value_or((ca_dir / "crl.pem").string());
  const int days = days_option(args, kDefaultCrlDays);
  const auto ca = read_ca(ca_dir);
  std::error_code ec;
  tunnel::NamedPem previous{"the CRL " + out.string(), ""};
  if (fs::exists(out, ec)) previous.pem = tunnel::read_text_file(out.string(), previous.what);
  std::vector<tunnel::NamedPem> revoked;
  for (const auto& file : args.list("cert")) revoked.push_back({file, tunnel::read_text_file(file, file)});
  const std::string crl = tunnel::make_crl(ca, previous, revoked, days);
  // Written beside and renamed over the old one: a gateway reloading meanwhile reads one or the other.
  const fs::path temporary = out.string() + ".new";
  write_file({temporary, crl, 0644, ""}, true);
  fs::rename(temporary, out, ec);
  if (ec) {
    fs::remove(temporary, ec);
    throw std::runtime_error("cannot replace " + out.string() + ": " + ec.message());
  }
  std::cout << "revoked " << revoked.size() << " certificate file(s); the CRL lists them and every one "
            << "it listed before, valid " << days << " days, signed by " << (ca_dir / "ca.pem").string()
            << "\n"
            << "  wrote " << out.string() << "  CRL: crl_file of edges and connectors (reload them)\n";
  return 0;
}

}  // namespace

int command_certs(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    (argc < 2 ? std::cerr : std::cout) << kCertsHelp;
    return argc < 2 ? kUsage : 0;
  }
  const std::string command = argv[1];
  const char* help = nullptr;
  std::set<std::string> single;
  std::set<std::string> repeatable;
  int (*run)(const Args&) = nullptr;
  if (command == "ca") {
    help = kCaHelp;
    single = {"out", "days", "cn"};
    run = run_ca;
  } else if (command == "edge") {
    help = kEdgeHelp;
    single = {"ca", "out", "days", "file-prefix"};
    repeatable = {"name", "ip"};
    run = run_edge;
  } else if (command == "connector") {
    help = kConnectorHelp;
    single = {"ca", "out", "tenant", "location", "days", "file-prefix"};
    run = run_connector;
  } else if (command == "revoke") {
    help = kRevokeHelp;
    single = {"ca", "days", "out"};
    repeatable = {"cert"};
    run = run_revoke;
  } else {
    std::cerr << "gatewayd certs: unknown command '" << command << "'\n\n" << kCertsHelp;
    return kUsage;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << help;
      return 0;
    }
  }
  try {
    return run(parse(argc, argv, 2, single, repeatable));
  } catch (const UsageError& e) {
    std::cerr << "gatewayd certs " << command << ": " << e.what() << " (see gatewayd certs " << command
              << " --help)\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "gatewayd certs " << command << ": " << e.what() << "\n";
    return kFailed;
  }
}

}  // namespace gw::cli
