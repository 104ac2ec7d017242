// The ldap route type end to end: gatewayd as a child process (standalone, whose connector reaches its
// edge over a real loopback tunnel, and an edge and a connector as two processes), a real slapd as the
// directory, and OpenLDAP's own clients (ldapsearch, ldapmodify, ldapadd, ldapwhoami) as applications.
// Every result through the gateway is compared with what the same client gets from slapd directly.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "support/gateway_process.hpp"
#include "support/http_peers.hpp"
#include "support/ldap_peers.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"
#include "support/record.hpp"
#include "support/socks_client.hpp"
#include "support/tls_peer.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

const std::string kServiceBind = "{bind_dn: 'cn=svc,dc=example,dc=com', bind_password: svc-secret}";

// One system of a standalone gateway, and the destination that reaches it.
struct Route {
  std::string name = "directory";
  std::string virtual_host = "directory.internal";
  std::uint16_t internal_port = 0;
  std::string system_settings = "{}";
  std::string system_tls{};  // YAML flow mapping; empty: none
  std::string destination_settings = "{}";
};

// A standalone gateway (tenant demo) with an admin listener and audit level all into audit.log.
std::string standalone(const std::vector<Route>& routes) {
  std::string systems = "systems:\n";
  std::string destinations = "destinations:\n";
  std::uint16_t port = 389;
  for (const auto& r : routes) {
    const std::string virtual_port = std::to_string(port++);
    systems += "  - virtual_host: " + r.virtual_host + "\n    virtual_port: " + virtual_port +
               "\n    internal_host: 127.0.0.1\n    internal_port: " + std::to_string(r.internal_port) +
               "\n    route_type: ldap\n    settings: " + r.system_settings + "\n";
    if (!r.system_tls.empty()) systems += "    tls: " + r.system_tls + "\n";
    destinations += "  - name: " + r.name + "\n    route_type: ldap\n    address: ldap://" + r.virtual_host +
                    ":" + virtual_port +
                    "\n    proxy_type: on_premise\n    tenant: demo\n    entry_point: {listen: 127.0.0.1:0}\n"
                    "    settings: " +
                    r.destination_settings + "\n";
  }
  return "node: {name: standalone, role: standalone}\n"
         "log: {level: info, format: text}\n"
         "audit: {level: all, file: audit.log}\n"
         "admin: {listen: 127.0.0.1:0}\n"
         "connector: {tenant: demo}\n" +
         systems + destinations;
}

Route read_only(const Slapd& slapd, const std::string& extra_system_settings = "") {
  Route route;
  route.internal_port = slapd.ldap_port();
  route.system_settings = "{operations: [read-only], base_dns: ['dc=example,dc=com']" +
                          (extra_system_settings.empty() ? "" : ", " + extra_system_settings) + "}";
  route.destination_settings = kServiceBind;
  return route;
}

::testing::AssertionResult ready_with_tunnel(GatewayProcess& gateway) {
  if (auto ready = gateway.wait_ready(); !ready) return ready;
  if (!gateway.wait_for_log(log_event("connector_connected"))) {
    return ::testing::AssertionFailure() << "the connector did not connect";
  }
  return ::testing::AssertionSuccess();
}

std::string entry_url(const GatewayProcess& gateway, const std::string& destination = "directory") {
  return "ldap://127.0.0.1:" + std::to_string(gateway.port(destination));
}

std::string describe(const CommandResult& result) {
  std::string text = "exit ";
  if (result.status) {
    text += result.status->exited ? std::to_string(result.status->code) : "by signal";
  } else {
    text += "unknown";
  }
  return text + "; stdout: " + result.out + "; stderr: " + result.err;
}

int exit_code(const CommandResult& result) {
  return result.status && result.status->exited ? result.status->code : -1;
}

// One LDAPMessage element: tag, short-form length, contents (under 128 octets).
std::string tlv(unsigned char tag, const std::string& contents) {
  EXPECT_LT(contents.size(), 128u);
  return std::string(1, static_cast<char>(tag)) + static_cast<char>(contents.size()) + contents;
}

// The Slapd's service password as the gateway's settings above spell it.
class LdapRoute : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(slapd_.service_password(), "svc-secret"); }
  Slapd slapd_;
};

TEST_F(LdapRoute, SearchesThroughTheTunnelReturnWhatADirectSearchReturns) {
  GatewayProcess gateway(standalone({read_only(slapd_)}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  // The application binds anonymously; the gateway binds as the service account.
  const std::vector<std::string> search{"-b", slapd_.suffix(), "(objectClass=*)"};
  CommandResult through = ldapsearch(entry_url(gateway), search);
  ASSERT_EQ(exit_code(through), 0) << describe(through);
  auto direct_args = slapd_.service_bind_args();
  direct_args.insert(direct_args.end(), search.begin(), search.end());
  CommandResult direct = ldapsearch(slapd_.url(), direct_args);
  ASSERT_EQ(exit_code(direct), 0) << describe(direct);

  const auto through_entries = parse_ldif(through.out);
  EXPECT_EQ(through_entries, parse_ldif(direct.out));
  // The whole directory: base, svc, three ou, people, two groups, the restricted entries.
  EXPECT_EQ(through_entries.size(), 1 + 1 + 3 + slapd_.people() + 2 + slapd_.restricted());

  // One audit record per operation, with its base DN and result.
  auto records = gateway.wait_for_audit(audit_event(
      "ldap.operation", {{"operation", "search"}, {"dn", slapd_.suffix()}, {"result_code", "0"}}));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].get("entries"), std::to_string(through_entries.size()));
  EXPECT_EQ(records[0].get("system"), "directory.internal:389");
  // The application's unbind ends the connection cleanly on every hop.
  auto connection = gateway.wait_for_audit(audit_event("ldap.connection", {{"destination", "directory"}}));
  ASSERT_EQ(connection.size(), 1u);
  EXPECT_EQ(connection[0].get("outcome"), "ok") << connection[0].get("reason");
  // The first operation (here the injected bind) travelled with the tunnel stream's request.
  EXPECT_GT(metric_value(gateway.admin_port(), "gateway_tunnel_early_data_bytes_total", {}), 0);
}

TEST_F(LdapRoute, BindInjectionLetsAnAnonymousApplicationSeeWhatTheServiceAccountSees) {
  GatewayProcess gateway(standalone({read_only(slapd_)}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  const std::vector<std::string> restricted{"-b",  slapd_.restricted_dn(), "-s",
                                            "one", "(objectClass=*)",      "dn"};
  CommandResult anonymous_direct = ldapsearch(slapd_.url(), restricted);
  EXPECT_TRUE(ldif_dns(anonymous_direct.out).empty()) << describe(anonymous_direct);
  CommandResult through = ldapsearch(entry_url(gateway), restricted);
  ASSERT_EQ(exit_code(through), 0) << describe(through);
  EXPECT_EQ(ldif_dns(through.out).size(), slapd_.restricted());

  CommandResult whoami = ldapwhoami(entry_url(gateway), {});
  ASSERT_EQ(exit_code(whoami), 0) << describe(whoami);
  EXPECT_EQ(whoami.out, "dn:" + slapd_.service_dn() + "\n");

  // An application that brings credentials of its own is refused: the gateway binds for this destination.
  CommandResult own =
      ldapwhoami(entry_url(gateway), {"-D", slapd_.person_dn(1), "-w", Slapd::person_password(1)});
  EXPECT_EQ(exit_code(own), 49) << describe(own);
  EXPECT_FALSE(
      gateway.wait_for_audit(audit_event("ldap.bind_refused", {{"dn", slapd_.person_dn(1)}})).empty());

  // Nor can it choose who the service account acts as (proxied authorization, RFC 4370).
  CommandResult proxied = ldapsearch(entry_url(gateway), {"-e", "!authzid=dn:" + slapd_.person_dn(1), "-b",
                                                          slapd_.restricted_dn(), "(objectClass=*)", "dn"});
  EXPECT_EQ(exit_code(proxied), 50) << describe(proxied);
  EXPECT_NE(describe(proxied).find("proxied authorization is not allowed"), std::string::npos)
      << describe(proxied);
  EXPECT_TRUE(ldif_dns(proxied.out).empty()) << describe(proxied);

  // StartTLS between the application and the gateway is declined; -Z goes on without it, -ZZ stops.
  CommandResult optional_tls =
      ldapsearch(entry_url(gateway), {"-Z", "-b", slapd_.people_dn(), "(uid=user3)", "dn"});
  EXPECT_EQ(ldif_dns(optional_tls.out), std::vector<std::string>{slapd_.person_dn(3)})
      << describe(optional_tls);
  CommandResult required_tls =
      ldapsearch(entry_url(gateway), {"-ZZ", "-b", slapd_.people_dn(), "(uid=user3)"});
  EXPECT_NE(exit_code(required_tls), 0) << describe(required_tls);
  EXPECT_NE(required_tls.err.find("StartTLS is not offered through the gateway"), std::string::npos)
      << describe(required_tls);
}

TEST_F(LdapRoute, AGatewayIssuedCredentialStandsForTheServiceAccount) {
  Route route = read_only(slapd_);
  route.destination_settings =
      "{bind_dn: 'cn=svc,dc=example,dc=com', bind_password: svc-secret, client_dn: 'cn=app,ou=gateway', "
      "client_password: issued-to-app}";
  GatewayProcess gateway(standalone({route}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  CommandResult issued = ldapwhoami(entry_url(gateway), {"-D", "CN=App, OU=Gateway", "-w", "issued-to-app"});
  ASSERT_EQ(exit_code(issued), 0) << describe(issued);
  EXPECT_EQ(issued.out, "dn:" + slapd_.service_dn() + "\n");

  CommandResult wrong = ldapwhoami(entry_url(gateway), {"-D", "cn=app,ou=gateway", "-w", "guess"});
  EXPECT_EQ(exit_code(wrong), 49) << describe(wrong);
  CommandResult anonymous = ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(uid=user1)"});
  EXPECT_NE(exit_code(anonymous), 0) << describe(anonymous);
  EXPECT_TRUE(ldif_dns(anonymous.out).empty());
}

TEST_F(LdapRoute, ReadOnlyRefusesEveryWriteWithInsufficientAccessRights) {
  GatewayProcess gateway(standalone({read_only(slapd_)}));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const std::string person = slapd_.person_dn(2);

  CommandResult modify =
      ldapmodify(entry_url(gateway), {},
                 "dn: " + person + "\nchangetype: modify\nreplace: mail\nmail: changed@example.com\n");
  EXPECT_EQ(exit_code(modify), 50) << describe(modify);
  CommandResult add =
      ldapadd(entry_url(gateway), {},
              "dn: uid=intruder," + slapd_.people_dn() +
                  "\nobjectClass: inetOrgPerson\nuid: intruder\ncn: Intruder\nsn: Intruder\n");
  EXPECT_EQ(exit_code(add), 50) << describe(add);
  CommandResult remove = ldapmodify(entry_url(gateway), {}, "dn: " + person + "\nchangetype: delete\n");
  EXPECT_EQ(exit_code(remove), 50) << describe(remove);
  CommandResult rename =
      ldapmodify(entry_url(gateway), {},
                 "dn: " + person + "\nchangetype: modrdn\nnewrdn: uid=renamed\ndeleteoldrdn: 1\n");
  EXPECT_EQ(exit_code(rename), 50) << describe(rename);

  // Nothing reached the directory.
  auto args = slapd_.service_bind_args();
  for (std::string a : {std::string("-b"), slapd_.people_dn(),
                        std::string("(|(uid=user2)(uid=intruder)(uid=renamed))"), std::string("mail")}) {
    args.push_back(a);
  }
  CommandResult after = ldapsearch(slapd_.url(), args);
  const auto entries = parse_ldif(after.out);
  ASSERT_EQ(entries.size(), 1u) << describe(after);
  EXPECT_EQ(entries[0].dn, person);
  EXPECT_EQ(entries[0].values("mail"), std::vector<std::string>{"user2@example.com"});

  for (const char* op : {"modify", "add", "delete", "modify_dn"}) {
    EXPECT_EQ(
        gateway.wait_for_audit(audit_event("ldap.denied", {{"operation", op}, {"result_code", "50"}})).size(),
        1u)
        << op;
  }
}

TEST_F(LdapRoute, ReadWriteLetsTheSameChangesThrough) {
  Route route = read_only(slapd_);
  route.system_settings = "{operations: [read-write], base_dns: ['ou=people,dc=example,dc=com']}";
  GatewayProcess gateway(standalone({route}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  // One connection (ldapmodify -c goes on after an error): a change outside the allowed subtree is
  // refused with a result, and the next change on the same connection goes through.
  CommandResult modify = ldapmodify(entry_url(gateway), {"-c"},
                                    "dn: cn=staff," + slapd_.groups_dn() +
                                        "\nchangetype: modify\nreplace: description\ndescription: x\n\n"
                                        "dn: " +
                                        slapd_.person_dn(4) +
                                        "\nchangetype: modify\nreplace: mail\nmail: changed@example.com\n");
  EXPECT_NE(modify.err.find("Insufficient access"), std::string::npos) << describe(modify);
  CommandResult direct =
      ldapsearch(slapd_.url(), {"-b", slapd_.person_dn(4), "-s", "base", "(objectClass=*)", "mail"});
  const auto entries = parse_ldif(direct.out);
  ASSERT_EQ(entries.size(), 1u) << describe(direct);
  EXPECT_EQ(entries[0].values("mail"), std::vector<std::string>{"changed@example.com"});

  auto denied = gateway.wait_for_audit(audit_event("ldap.denied", {{"operation", "modify"}}));
  auto done = gateway.wait_for_audit(audit_event(
      "ldap.operation", {{"operation", "modify"}, {"dn", slapd_.person_dn(4)}, {"result_code", "0"}}));
  ASSERT_EQ(denied.size(), 1u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(denied[0].get("request_id"), done[0].get("request_id"));
}

TEST_F(LdapRoute, APasswordChangeIsAllowedOnlyForIdentitiesInsideTheAllowedSubtrees) {
  Route route = read_only(slapd_);
  route.system_settings = "{operations: [read-write], base_dns: ['ou=people,dc=example,dc=com']}";
  GatewayProcess gateway(standalone({route}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  // The service account itself lies outside ou=people: its password stays as it is.
  CommandResult outside = ldappasswd(entry_url(gateway), {"-s", "taken-over", slapd_.service_dn()});
  EXPECT_NE(exit_code(outside), 0) << describe(outside);  // ldappasswd prints the result, exits 1
  EXPECT_NE(outside.out.find("Insufficient access (50)"), std::string::npos) << describe(outside);
  EXPECT_EQ(exit_code(ldapwhoami(slapd_.url(), {"-D", slapd_.service_dn(), "-w", "svc-secret"})), 0);
  auto denied = gateway.wait_for_audit(audit_event("ldap.denied", {{"operation", "extended"}}));
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_NE(denied[0].get("reason").find("outside the allowed subtrees"), std::string::npos)
      << denied[0].get("reason");

  // Nor can it be changed as the bound user's own password: the gateway binds as the service account.
  CommandResult own = ldappasswd(entry_url(gateway), {"-s", "taken-over"});
  EXPECT_NE(own.out.find("Insufficient access (50)"), std::string::npos) << describe(own);
  EXPECT_EQ(exit_code(ldapwhoami(slapd_.url(), {"-D", slapd_.service_dn(), "-w", "svc-secret"})), 0);

  // A person's: changed (the service account may write passwords), as a bind straight to slapd shows.
  CommandResult inside = ldappasswd(entry_url(gateway), {"-s", "new-password-3", slapd_.person_dn(3)});
  EXPECT_EQ(exit_code(inside), 0) << describe(inside);
  EXPECT_EQ(exit_code(ldapwhoami(slapd_.url(), {"-D", slapd_.person_dn(3), "-w", "new-password-3"})), 0);
  EXPECT_EQ(exit_code(ldapwhoami(slapd_.url(), {"-D", slapd_.person_dn(3), "-w", Slapd::person_password(3)})),
            49);
}

TEST_F(LdapRoute, ASearchOutsideTheAllowedSubtreesIsAnsweredWithResult50) {
  Route route = read_only(slapd_);
  route.system_settings = "{operations: [read-only], base_dns: ['ou=people,dc=example,dc=com']}";
  GatewayProcess gateway(standalone({route}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  for (const std::string& base : {slapd_.suffix(), slapd_.groups_dn(), slapd_.restricted_dn()}) {
    CommandResult refused = ldapsearch(entry_url(gateway), {"-b", base, "(objectClass=*)", "dn"});
    EXPECT_EQ(exit_code(refused), 50) << base << ": " << describe(refused);
    EXPECT_NE(refused.err.find("Insufficient access"), std::string::npos) << describe(refused);
  }
  // A DN is compared as LDAP compares it: case and spaces do not matter.
  CommandResult inside = ldapsearch(entry_url(gateway), {"-b", "UID=user5, OU=People, DC=Example, DC=Com",
                                                         "-s", "base", "(objectClass=*)", "uid"});
  EXPECT_EQ(ldif_dns(inside.out), std::vector<std::string>{slapd_.person_dn(5)}) << describe(inside);
  // The root DSE is readable: clients learn the server's capabilities there.
  CommandResult root_dse =
      ldapsearch(entry_url(gateway), {"-b", "", "-s", "base", "(objectClass=*)", "namingContexts"});
  ASSERT_EQ(exit_code(root_dse), 0) << describe(root_dse);
  EXPECT_NE(root_dse.out.find("namingContexts: dc=example,dc=com"), std::string::npos) << describe(root_dse);

  EXPECT_EQ(gateway.wait_for_audit(audit_event("ldap.denied", {{"operation", "search"}}), 3).size(), 3u);
}

TEST_F(LdapRoute, SizeLimitsAreCappedAndDeniedAttributesNeverLeaveTheDirectory) {
  GatewayProcess gateway(standalone(
      {read_only(slapd_, "max_size_limit: 5, denied_attributes: [telephoneNumber, userPassword]")}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  CommandResult capped = ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(uid=*)", "uid"});
  EXPECT_EQ(exit_code(capped), 4) << describe(capped);  // sizeLimitExceeded
  EXPECT_EQ(ldif_dns(capped.out).size(), 5u);

  CommandResult entry = ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(uid=user6)", "*", "+"});
  ASSERT_EQ(exit_code(entry), 0) << describe(entry);
  const auto entries = parse_ldif(entry.out);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].has("mail"));
  EXPECT_FALSE(entries[0].has("telephoneNumber"));
  CommandResult direct =
      ldapsearch(slapd_.url(), {"-b", slapd_.people_dn(), "(uid=user6)", "telephoneNumber"});
  EXPECT_NE(direct.out.find("telephoneNumber:"), std::string::npos) << describe(direct);

  // Filtering on a denied attribute would disclose it one guess at a time.
  CommandResult probe =
      ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(&(uid=user6)(telephoneNumber=+1*))"});
  EXPECT_EQ(exit_code(probe), 50) << describe(probe);
  // The same under the type's OID, which the directory takes as the same attribute.
  const std::vector<std::string> by_oid = {"-b", slapd_.people_dn(), "(&(uid=user6)(2.5.4.20=+1*))",
                                           "2.5.4.20"};
  CommandResult direct_by_oid = ldapsearch(slapd_.url(), by_oid);
  EXPECT_EQ(ldif_dns(direct_by_oid.out), std::vector<std::string>{slapd_.person_dn(6)})
      << describe(direct_by_oid);
  CommandResult probe_by_oid = ldapsearch(entry_url(gateway), by_oid);
  EXPECT_EQ(exit_code(probe_by_oid), 50) << describe(probe_by_oid);
  EXPECT_TRUE(ldif_dns(probe_by_oid.out).empty()) << describe(probe_by_oid);
  // Asked for by OID, it is still removed from the entry.
  CommandResult asked_by_oid =
      ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(uid=user6)", "2.5.4.20", "mail"});
  ASSERT_EQ(exit_code(asked_by_oid), 0) << describe(asked_by_oid);
  EXPECT_EQ(asked_by_oid.out.find("elephoneNumber"), std::string::npos) << describe(asked_by_oid);
  EXPECT_EQ(asked_by_oid.out.find("2.5.4.20"), std::string::npos) << describe(asked_by_oid);
}

TEST_F(LdapRoute, ControlsTheSystemDoesNotAllowAreRefusedWhenCriticalAndRemovedOtherwise) {
  // The subentries control (RFC 3672) makes slapd return subentries only, of which the directory has
  // none: whether it reached slapd shows in what comes back.
  const std::vector<std::string> subentries = {
      "-E", "subentries=true", "-b", slapd_.people_dn(), "(uid=user3)", "uid"};
  CommandResult direct = ldapsearch(slapd_.url(), subentries);
  ASSERT_EQ(exit_code(direct), 0) << describe(direct);
  EXPECT_TRUE(ldif_dns(direct.out).empty()) << "slapd applies the control: " << describe(direct);

  GatewayProcess gateway(standalone({read_only(slapd_)}));  // controls: the standard preset
  ASSERT_TRUE(ready_with_tunnel(gateway));

  // Not critical and not allowed: removed, so the search is an ordinary one, and audited.
  CommandResult removed = ldapsearch(entry_url(gateway), subentries);
  ASSERT_EQ(exit_code(removed), 0) << describe(removed);
  EXPECT_EQ(ldif_dns(removed.out), std::vector<std::string>{slapd_.person_dn(3)}) << describe(removed);
  const auto removals = gateway.wait_for_audit(audit_event(
      "ldap.controls_removed", {{"operation", "search"}, {"controls", "1.3.6.1.4.1.4203.1.10.1"}}));
  EXPECT_EQ(removals.size(), 1u);

  // Critical and not allowed: unavailableCriticalExtension, and the directory never sees it.
  CommandResult critical = ldapsearch(entry_url(gateway), {"-E", "!1.3.6.1.4.1.4203.666.5.12", "-b",
                                                           slapd_.people_dn(), "(uid=user3)", "uid"});
  EXPECT_EQ(exit_code(critical), 12) << describe(critical);
  EXPECT_NE(critical.err.find("is not allowed on this system"), std::string::npos) << describe(critical);
  EXPECT_TRUE(ldif_dns(critical.out).empty()) << describe(critical);
  EXPECT_EQ(
      gateway.wait_for_audit(audit_event("ldap.denied", {{"operation", "search"}, {"result_code", "12"}}))
          .size(),
      1u);

  // Allowed controls pass: paged results (standard) page through the same entries as directly.
  const std::vector<std::string> paged = {"-E", "pr=4/noprompt", "-b", slapd_.people_dn(), "(uid=*)", "uid"};
  CommandResult paged_direct = ldapsearch(slapd_.url(), paged);
  CommandResult paged_gateway = ldapsearch(entry_url(gateway), paged);
  ASSERT_EQ(exit_code(paged_gateway), 0) << describe(paged_gateway);
  EXPECT_GT(ldif_dns(paged_direct.out).size(), 4u);
  EXPECT_EQ(ldif_dns(paged_gateway.out), ldif_dns(paged_direct.out));
}

TEST_F(LdapRoute, AControlListedForTheSystemReachesTheDirectory) {
  GatewayProcess gateway(standalone({read_only(slapd_, "controls: [standard, subentries]")}));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  CommandResult applied = ldapsearch(
      entry_url(gateway), {"-E", "subentries=true", "-b", slapd_.people_dn(), "(uid=user3)", "uid"});
  ASSERT_EQ(exit_code(applied), 0) << describe(applied);
  EXPECT_TRUE(ldif_dns(applied.out).empty()) << "slapd got the control: " << describe(applied);
}

namespace {

// The size of the LDAPMessage at the start of `buffered`, 0 while its header is incomplete.
std::size_t ber_message_size(const std::string& buffered, std::size_t& header) {
  if (buffered.size() < 2) return 0;
  const auto first = static_cast<unsigned char>(buffered[1]);
  if (first < 0x80) {
    header = 2;
    return 2 + first;
  }
  const std::size_t octets = first & 0x7f;
  if (buffered.size() < 2 + octets) return 0;
  std::size_t length = 0;
  for (std::size_t i = 0; i < octets; ++i) length = length << 8 | static_cast<unsigned char>(buffered[2 + i]);
  header = 2 + octets;
  return header + length;
}

// A directory that misbehaves: every bind succeeds, and every search returns an entry (with one cn
// value) for each of `dns`, whatever it asked for, then success.
asio::awaitable<void> return_entries(tcp::socket socket, std::vector<std::string> dns) {
  const std::string success = tlv(0x0a, std::string(1, '\0')) + tlv(0x04, "") + tlv(0x04, "");
  std::string buffered;
  std::array<char, 4096> chunk;
  for (;;) {
    std::size_t header = 0;
    std::size_t size = ber_message_size(buffered, header);
    while (size == 0 || buffered.size() < size) {
      boost::system::error_code error;
      const std::size_t n = co_await socket.async_read_some(asio::buffer(chunk),
                                                            asio::redirect_error(asio::use_awaitable, error));
      if (error) co_return;
      buffered.append(chunk.data(), n);
      size = ber_message_size(buffered, header);
    }
    const std::string message = buffered.substr(0, size);
    buffered.erase(0, size);
    const std::string id = message.substr(header, 2 + static_cast<unsigned char>(message[header + 1]));
    const auto op = static_cast<unsigned char>(message[header + id.size()]);
    std::string answer;
    if (op == 0x60) answer = tlv(0x30, id + tlv(0x61, success));
    if (op == 0x63) {
      for (const std::string& dn : dns) {
        const std::string attribute = tlv(0x30, tlv(0x04, "cn") + tlv(0x31, tlv(0x04, "x")));
        answer += tlv(0x30, id + tlv(0x64, tlv(0x04, dn) + tlv(0x30, attribute)));
      }
      answer += tlv(0x30, id + tlv(0x65, success));
    }
    if (op == 0x42) co_return;
    co_await write_all(socket, answer);
  }
}

}  // namespace

TEST(LdapRouteDirectory, EntriesOutsideTheAllowedSubtreesAreDroppedWhateverTheDirectorySends) {
  const std::string inside = "uid=user1,ou=people,dc=example,dc=com";
  const std::string outside = "uid=boss,ou=admins,dc=example,dc=com";
  ScriptedServer directory([&](tcp::socket socket) {
    return return_entries(std::move(socket), {inside, outside});
  });
  Route route;
  route.internal_port = directory.port();
  route.system_settings =
      "{operations: [read-only], base_dns: ['ou=people,dc=example,dc=com'], health_check_interval: 0s}";
  route.destination_settings = kServiceBind;
  GatewayProcess gateway(standalone({route}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  CommandResult result =
      ldapsearch(entry_url(gateway), {"-b", "ou=people,dc=example,dc=com", "(uid=user1)", "cn"});
  ASSERT_EQ(exit_code(result), 0) << describe(result);
  EXPECT_EQ(ldif_dns(result.out), std::vector<std::string>{inside}) << describe(result);
  const auto dropped = gateway.wait_for_audit(audit_event("ldap.entry_dropped", {{"dn", outside}}));
  EXPECT_EQ(dropped.size(), 1u);
  // The operation's record counts the entries the client got.
  const auto operations =
      gateway.wait_for_audit(audit_event("ldap.operation", {{"operation", "search"}, {"result_code", "0"}}));
  ASSERT_EQ(operations.size(), 1u);
  EXPECT_EQ(operations[0].get("entries"), "1");
  EXPECT_EQ(metric_value(gateway.admin_port(), "gateway_ldap_entries_dropped_total",
                         {{"system", "directory.internal:389"}}),
            1);
}

TEST(LdapRouteTls, TheConnectorSpeaksLdapsOrStartTlsToTheDirectory) {
  TestPki pki;
  Slapd slapd(pki);
  TestPki other;  // a CA the directory's certificate does not chain to
  const std::string ca = "{enabled: true, ca_file: " + pki.ca_file().string() + "}";

  Route ldaps = read_only(slapd);
  ldaps.name = "ldaps";
  ldaps.virtual_host = "ldaps.internal";
  ldaps.internal_port = slapd.ldaps_port();
  ldaps.system_tls = ca;
  Route starttls = read_only(slapd, "starttls: true");
  starttls.name = "starttls";
  starttls.virtual_host = "starttls.internal";
  starttls.system_tls = ca;
  Route untrusted = read_only(slapd);
  untrusted.name = "untrusted";
  untrusted.virtual_host = "untrusted.internal";
  untrusted.internal_port = slapd.ldaps_port();
  untrusted.system_tls = "{enabled: true, ca_file: " + other.ca_file().string() + "}";
  GatewayProcess gateway(standalone({ldaps, starttls, untrusted}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  for (const char* name : {"ldaps", "starttls"}) {
    CommandResult found =
        ldapsearch(entry_url(gateway, name), {"-b", slapd.people_dn(), "(uid=user7)", "dn"});
    EXPECT_EQ(ldif_dns(found.out), std::vector<std::string>{slapd.person_dn(7)})
        << name << ": " << describe(found);
  }
  CommandResult refused =
      ldapsearch(entry_url(gateway, "untrusted"), {"-b", slapd.people_dn(), "(uid=user7)"});
  EXPECT_NE(exit_code(refused), 0) << describe(refused);
  EXPECT_TRUE(ldif_dns(refused.out).empty());
  auto failure = gateway.wait_for_log(log_event("connection_failed", {{"system", "untrusted.internal:391"}}));
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->get("reason").find("certificate"), std::string::npos) << failure->get("reason");
}

TEST(LdapRouteTls, AnInternetDestinationSpeaksLdapsOrStartTlsItself) {
  TestPki pki;
  Slapd slapd(pki);
  const std::string tls = "    tls: {enabled: true, ca_file: " + pki.ca_file().string() + "}\n";
  GatewayProcess gateway(
      "node: {name: edge, role: edge}\nlog: {level: info, format: text}\n"
      "audit: {level: all, file: audit.log}\ndestinations:\n"
      "  - name: ldaps\n    route_type: ldap\n    address: ldaps://127.0.0.1:" +
      std::to_string(slapd.ldaps_port()) + "\n    entry_point: {listen: 127.0.0.1:0}\n" + tls +
      "    settings: " + kServiceBind + "\n" +
      "  - name: starttls\n    route_type: ldap\n    address: ldap://127.0.0.1:" +
      std::to_string(slapd.ldap_port()) + "\n    entry_point: {listen: 127.0.0.1:0}\n" + tls +
      "    settings: {starttls: true}\n");
  ASSERT_TRUE(gateway.wait_ready());

  CommandResult ldaps = ldapwhoami(entry_url(gateway, "ldaps"), {});
  EXPECT_EQ(ldaps.out, "dn:" + slapd.service_dn() + "\n") << describe(ldaps);
  // Without bind injection the application's own bind passes through.
  CommandResult starttls =
      ldapwhoami(entry_url(gateway, "starttls"), {"-D", slapd.person_dn(8), "-w", Slapd::person_password(8)});
  EXPECT_EQ(starttls.out, "dn:" + slapd.person_dn(8) + "\n") << describe(starttls);

  // Without a connector, the edge audits each operation itself.
  EXPECT_FALSE(gateway
                   .wait_for_audit(audit_event("ldap.operation", {{"destination", "ldaps"},
                                                                  {"operation", "bind"},
                                                                  {"dn", slapd.service_dn()},
                                                                  {"result_code", "0"}}))
                   .empty());
  EXPECT_FALSE(gateway
                   .wait_for_audit(audit_event("ldap.operation", {{"destination", "starttls"},
                                                                  {"operation", "bind"},
                                                                  {"dn", slapd.person_dn(8)},
                                                                  {"result_code", "0"}}))
                   .empty());
  EXPECT_EQ(
      gateway
          .wait_for_audit(audit_event("ldap.operation", {{"operation", "extended"}, {"result_code", "0"}}), 2)
          .size(),
      2u);
}

TEST_F(LdapRoute, MalformedBerEndsTheConnectionWithANoticeOfDisconnection) {
  GatewayProcess gateway(standalone({read_only(slapd_)}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  const std::vector<std::pair<std::string, std::string>> cases{
      {"not a SEQUENCE", std::string("\x31\x03\x02\x01\x01", 5)},
      {"indefinite length", std::string("\x30\x80\x02\x01\x01\x00\x00", 7)},
      {"declared size beyond the limit", std::string("\x30\x84\x7f\xff\xff\xff\x02\x01", 8)},
      {"no protocolOp", std::string("\x30\x03\x02\x01\x01", 5)},
      {"unknown protocolOp", std::string("\x30\x05\x02\x01\x01\x99\x00", 7)},
      {"search request cut short", std::string("\x30\x0a\x02\x01\x02\x63\x05\x04\x03\x64\x63\x3d", 12)},
      {"connection ends inside a message", std::string("\x30\x20\x02\x01\x03", 5)},
  };
  const std::string notice_oid = "1.3.6.1.4.1.1466.20036";
  for (const auto& [what, bytes] : cases) {
    const std::string answer = raw_exchange(gateway.port("directory"), bytes);
    EXPECT_NE(answer.find(notice_oid), std::string::npos) << what << ": no Notice of Disconnection";
    EXPECT_EQ(answer.substr(0, 1), "\x30") << what;
  }
  EXPECT_EQ(gateway.wait_for_audit(audit_event("ldap.malformed"), cases.size()).size(), cases.size());
  // The gateway goes on serving.
  CommandResult after = ldapsearch(entry_url(gateway), {"-b", slapd_.people_dn(), "(uid=user9)", "dn"});
  EXPECT_EQ(ldif_dns(after.out), std::vector<std::string>{slapd_.person_dn(9)}) << describe(after);
}

// A plain TCP client of the entry point on `port`, whose blocking reads give up after kGuard (a
// failure, not a hang).
tcp::socket connect_raw(asio::io_context& io, std::uint16_t port) {
  tcp::socket client(io);
  client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  const timeval guard{static_cast<time_t>(kGuard.count() / 1000), 0};
  ::setsockopt(client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  return client;
}

// A subtree search (objectClass=*) below `base` asking for no attributes, with message id `id`.
std::string search_request(char id, const std::string& base) {
  const std::string zero(1, '\0');
  const std::string search = tlv(0x04, base) + tlv(0x0a, "\x02") + tlv(0x0a, zero) + tlv(0x02, zero) +
                             tlv(0x02, zero) + tlv(0x01, zero) + tlv(0x87, "objectClass") +
                             tlv(0x30, tlv(0x04, "1.1"));
  return tlv(0x30, tlv(0x02, std::string(1, id)) + tlv(0x63, search));
}

// An AbandonRequest (message `id`) of operation `abandoned`.
std::string abandon_request(char id, char abandoned) {
  return tlv(0x30, tlv(0x02, std::string(1, id)) + tlv(0x50, std::string(1, abandoned)));
}

// The start of the SearchResultDone of message `id` (messageID, then the op's tag).
std::string search_done(char id) {
  return std::string("\x02\x01", 2) + id + "\x65";
}

// Reads from `socket` until `received` holds `wanted` (true) or the connection ends (false).
bool read_until(tcp::socket& socket, std::string& received, const std::string& wanted) {
  std::array<char, 4096> buffer;
  while (received.find(wanted) == std::string::npos) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    if (ec) return false;
    received.append(buffer.data(), n);
  }
  return true;
}

// A first search (after the injected bind, if any), which opens the connection to the directory.
bool search_once(tcp::socket& client, const Slapd& slapd) {
  std::string received;
  asio::write(client, asio::buffer(search_request(1, slapd.people_dn())));
  return read_until(client, received, search_done(1));
}

// The result code in search `id`'s SearchResultDone in `received` (the ENUMERATED after its length
// octet), or -1 when there is none.
int done_result(const std::string& received, char id) {
  const std::size_t at = received.find(search_done(id));
  if (at == std::string::npos || at + 8 > received.size() || received.compare(at + 5, 2, "\x0a\x01") != 0)
    return -1;
  return static_cast<unsigned char>(received[at + 7]);
}

// The `ldap.operation` records of searches with message id `id` and result `code`, once there is one.
std::size_t search_records(GatewayProcess& gateway, const std::string& id, const std::string& code) {
  return gateway
      .wait_for_audit(
          audit_event("ldap.operation", {{"operation", "search"}, {"message_id", id}, {"result_code", code}}))
      .size();
}

// Holds the directory's answers while it lives, so that operations sent meanwhile stay in progress.
struct PausedDirectory {
  explicit PausedDirectory(Slapd& directory) : slapd(directory) { slapd.pause(); }
  ~PausedDirectory() { slapd.resume(); }
  Slapd& slapd;
};

// A gateway in front of `slapd` (`settings` added to the route), and a raw client connection whose
// first search is done; from hold() on, the directory is paused so that what the client sends stays
// in progress.
struct HeldClient {
  HeldClient(Slapd& directory, const std::string& settings)
      : slapd(directory), gateway(standalone({read_only(directory, settings)})) {}
  // False when the gateway or the first search failed.
  bool hold() {
    if (!ready_with_tunnel(gateway)) return false;
    client = connect_raw(io, gateway.port("directory"));
    if (!search_once(client, slapd)) return false;
    paused.emplace(slapd);
    return true;
  }
  void send(const std::string& bytes) { asio::write(client, asio::buffer(bytes)); }

  Slapd& slapd;
  GatewayProcess gateway;
  asio::io_context io;
  tcp::socket client{io};
  std::optional<PausedDirectory> paused;
};

TEST_F(LdapRoute, OperationsBeyondMaxPendingAreAnsweredBusyAndTheConnectionGoesOn) {
  HeldClient held(slapd_, "max_pending_operations: 1");
  ASSERT_TRUE(held.hold());
  GatewayProcess& gateway = held.gateway;

  // With the directory paused, the second search stays in progress, so the third is one too many.
  std::string received;
  held.send(search_request(2, slapd_.people_dn()) + search_request(3, slapd_.people_dn()));
  ASSERT_TRUE(read_until(held.client, received, "operations in progress on this connection"))
      << received.size();
  EXPECT_EQ(done_result(received, 3), 51);  // busy
  EXPECT_EQ(done_result(received, 2), -1);
  // Operators see it: a counter, and the operation's audit record with its result.
  EXPECT_EQ(
      metric_value(gateway.admin_port(), "gateway_ldap_busy_total", {{"system", "directory.internal:389"}}),
      1);
  EXPECT_EQ(search_records(gateway, "3", "51"), 1u);

  // Once the directory answers, the second search completes normally on the same connection.
  slapd_.resume();
  ASSERT_TRUE(read_until(held.client, received, search_done(2)));
  EXPECT_EQ(done_result(received, 2), 0);
}

TEST_F(LdapRoute, AMessageIdAlreadyInProgressIsRefusedWithProtocolError) {
  HeldClient held(slapd_, "max_pending_operations: 2");
  ASSERT_TRUE(held.hold());
  GatewayProcess& gateway = held.gateway;

  // Held by the paused directory, search 2 is in progress when the next search with id 2 arrives: the
  // gateway answers that one itself, and forwards nothing for it.
  std::string received;
  held.send(search_request(2, slapd_.people_dn()) + search_request(2, slapd_.people_dn()));
  ASSERT_TRUE(read_until(held.client, received, "already in use on this connection")) << received.size();
  EXPECT_EQ(done_result(received, 2), 2);  // protocolError
  EXPECT_EQ(search_records(gateway, "2", "2"), 1u);

  // The first search 2 completes normally, with its own record.
  slapd_.resume();
  received.clear();
  ASSERT_TRUE(read_until(held.client, received, search_done(2)));
  EXPECT_EQ(done_result(received, 2), 0);
  EXPECT_EQ(search_records(gateway, "2", "0"), 1u);
}

TEST_F(LdapRoute, AnAbandonedOperationIsAuditedAsAbandoned) {
  HeldClient held(slapd_, "");
  ASSERT_TRUE(held.hold());

  // Search 2 is in progress at the paused directory when the client abandons it.
  held.send(search_request(2, slapd_.people_dn()) + abandon_request(3, 2));
  const auto records = held.gateway.wait_for_audit(audit_event(
      "ldap.operation", {{"operation", "search"}, {"message_id", "2"}, {"outcome", "abandoned"}}));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].get("dn"), slapd_.people_dn());
  EXPECT_FALSE(records[0].has("result_code"));
}

// The directory is opened with the client's first operation; when it cannot be reached, the client
// learns why in LDAP, and the connection is audited as connect_failed.
TEST_F(LdapRoute, ADirectoryThatCannotBeReachedIsReportedInLdap) {
  Route unreachable = read_only(slapd_);
  unreachable.internal_port = free_port();
  GatewayProcess gateway(standalone({unreachable}));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  asio::io_context io;
  tcp::socket client = connect_raw(io, gateway.port("directory"));

  asio::write(client, asio::buffer(search_request(1, slapd_.people_dn())));
  std::string received;
  ASSERT_TRUE(read_until(client, received, "cannot reach the directory")) << received.size();
  // A Notice of Disconnection (messageID 0, extendedResp) with resultCode unavailable (52).
  EXPECT_EQ(received.substr(2, 4), std::string("\x02\x01\x00\x78", 4));
  EXPECT_NE(received.find(std::string("\x0a\x01\x34", 3)), std::string::npos);
  auto audit = gateway.wait_for_audit(audit_event("ldap.connection", {{"outcome", "connect_failed"}}));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_NE(audit[0].get("reason").find("Connection refused"), std::string::npos) << audit[0].get("reason");
}

TEST_F(LdapRoute, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  std::string yaml = standalone({read_only(slapd_)});
  yaml.insert(yaml.find("systems:"), "limits: {idle_timeout: 300ms}\n");
  GatewayProcess gateway(yaml);
  ASSERT_TRUE(ready_with_tunnel(gateway));

  // A client that connects and says nothing: the gateway ends the connection, it does not wait forever.
  asio::io_context io;
  tcp::socket client = connect_raw(io, gateway.port("directory"));
  std::array<char, 64> buffer;
  boost::system::error_code ec;
  client.read_some(asio::buffer(buffer), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  auto records = gateway.wait_for_audit(audit_event("ldap.connection", {{"destination", "directory"}}));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_NE(records[0].get("reason").find("idle for 300ms"), std::string::npos) << records[0].get("reason");
}

TEST_F(LdapRoute, AHundredConcurrentClientsEachGetTheirOwnAnswer) {
  GatewayProcess gateway(standalone({read_only(slapd_)}));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const std::string url = entry_url(gateway);

  constexpr std::size_t kClients = 100;
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const std::size_t person = i % slapd_.people();
      CommandResult got =
          ldapsearch(url, {"-b", slapd_.people_dn(), "(uid=user" + std::to_string(person) + ")", "uid"});
      const auto entries = parse_ldif(got.out);
      if (exit_code(got) != 0 || entries.size() != 1 || entries[0].dn != slapd_.person_dn(person)) {
        failures[i] = describe(got);
      }
    });
  }
  for (auto& t : clients) t.join();
  for (std::size_t i = 0; i < kClients; ++i) EXPECT_EQ(failures[i], "") << "client " << i;
}

TEST_F(LdapRoute, TheConnectorChecksTheDirectoryWithABind) {
  Route healthy = read_only(slapd_,
                            "health_check_interval: 200ms, health_check_bind_dn: 'cn=svc,dc=example,dc=com', "
                            "health_check_password: svc-secret");
  Route wrong = read_only(slapd_,
                          "health_check_interval: 200ms, health_check_bind_dn: 'cn=svc,dc=example,dc=com', "
                          "health_check_password: not-the-password");
  wrong.name = "wrong";
  wrong.virtual_host = "wrong.internal";
  GatewayProcess gateway(standalone({healthy, wrong}));
  ASSERT_TRUE(gateway.wait_ready());

  auto up =
      gateway.wait_for_log(log_event("ldap.health", {{"system", "directory.internal:389"}, {"state", "up"}}));
  ASSERT_TRUE(up.has_value());
  auto down =
      gateway.wait_for_log(log_event("ldap.health", {{"system", "wrong.internal:390"}, {"state", "down"}}));
  ASSERT_TRUE(down.has_value());
  EXPECT_NE(down->get("reason").find("Invalid credentials"), std::string::npos) << down->get("reason");
  EXPECT_EQ(down->get("reason").find("not-the-password"), std::string::npos);

  auto accept_one = [](double v) { return v == 1; };
  EXPECT_EQ(wait_for_metric(gateway.admin_port(), "gateway_ldap_up", {{"system", "directory.internal:389"}},
                            accept_one),
            1);
  EXPECT_EQ(metric_value(gateway.admin_port(), "gateway_ldap_up", {{"system", "wrong.internal:390"}}), 0);
  // Checks repeat: the counter grows.
  auto more_than_two = [](double v) { return v > 2; };
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_ldap_health_checks_total",
                              {{"system", "directory.internal:389"}, {"outcome", "ok"}}, more_than_two));
}

// The health check reaches the directory at its internal address but verifies its certificate under
// tls.server_name, as the data path does.
TEST(LdapRouteTls, TheHealthCheckVerifiesTheDirectoryUnderTheTlsServerName) {
  TestPki pki;
  Slapd slapd(pki);
  auto ldaps = [&](const std::string& name, const std::string& server_name) {
    Route route = read_only(slapd, "health_check_interval: 200ms");
    route.name = name;
    route.virtual_host = name + ".internal";
    route.internal_port = slapd.ldaps_port();
    route.system_tls =
        "{enabled: true, ca_file: " + pki.ca_file().string() + ", server_name: " + server_name + "}";
    return route;
  };
  // The certificate names localhost and 127.0.0.1; libldap checks "localhost" against the machine's
  // host name instead, so the address stands in for a name here.
  GatewayProcess gateway(standalone({ldaps("named", "127.0.0.1"), ldaps("misnamed", "other.example")}));
  ASSERT_TRUE(ready_with_tunnel(gateway));

  EXPECT_TRUE(
      gateway.wait_for_log(log_event("ldap.health", {{"system", "named.internal:389"}, {"state", "up"}})));
  auto down = gateway.wait_for_log(
      log_event("ldap.health", {{"system", "misnamed.internal:390"}, {"state", "down"}}));
  ASSERT_TRUE(down.has_value());
  EXPECT_NE(down->get("reason").find("ldaps://other.example:"), std::string::npos) << down->get("reason");
  // The data path agrees with the checks.
  CommandResult found =
      ldapsearch(entry_url(gateway, "named"), {"-b", slapd.people_dn(), "(uid=user2)", "dn"});
  EXPECT_EQ(ldif_dns(found.out), std::vector<std::string>{slapd.person_dn(2)}) << describe(found);
  CommandResult refused =
      ldapsearch(entry_url(gateway, "misnamed"), {"-b", slapd.people_dn(), "(uid=user2)"});
  EXPECT_NE(exit_code(refused), 0) << describe(refused);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "'" << from << "' not found";
    return text;
  }
  return text.replace(at, from.size(), to);
}

// config/ldap.yaml does what its comments say, with the test's slapd as the directory it expects on
// 127.0.0.1:3389 (and ephemeral ports instead of its fixed ones).
TEST_F(LdapRoute, TheShippedExampleWorksAsItsCommentsSay) {
  std::ifstream file(std::string(GW_SOURCE_DIR) + "/config/ldap.yaml");
  std::stringstream text;
  text << file.rdbuf();
  std::string yaml =
      replaced(text.str(), "internal_port: 3389", "internal_port: " + std::to_string(slapd_.ldap_port()));
  yaml = replaced(yaml, "listen: 127.0.0.1:15389", "listen: 127.0.0.1:0");
  yaml = replaced(yaml, "listen: 127.0.0.1:9902", "listen: 127.0.0.1:0");
  GatewayProcess gateway(yaml);
  ASSERT_TRUE(ready_with_tunnel(gateway));

  CommandResult whoami = ldapwhoami(entry_url(gateway), {});
  EXPECT_EQ(whoami.out, "dn:" + slapd_.service_dn() + "\n") << describe(whoami);
  CommandResult search = ldapsearch(entry_url(gateway), {"-b", slapd_.suffix(), "(uid=user1)"});
  const auto entries = parse_ldif(search.out);
  ASSERT_EQ(entries.size(), 1u) << describe(search);
  EXPECT_EQ(entries[0].dn, slapd_.person_dn(1));
  EXPECT_FALSE(entries[0].has("userPassword"));
  CommandResult remove = ldap_tool({"ldapdelete", "-x", "-H", entry_url(gateway), slapd_.person_dn(1)});
  EXPECT_EQ(exit_code(remove), 50) << describe(remove);
  EXPECT_TRUE(wait_for_metric(gateway.admin_port(), "gateway_ldap_up", {{"system", "directory.internal:389"}},
                              [](double v) { return v == 1; }));
}

// Carries each connection accepted on its port through the edge's SOCKS5 proxy (RFC 1929 user
// "app") to `host:port`, for clients that cannot speak SOCKS5 themselves (ldapsearch): a stand-in
// for an application's SOCKS library.
class SocksForwarder {
 public:
  SocksForwarder(std::uint16_t socks_port, std::string host, std::uint16_t port)
      : server_([socks_port, host, port](boost::asio::ip::tcp::socket& accepted) {
          gw::testing::SocksClient socks(socks_port);
          if (!socks.connect(gw::testing::SocksAuth::with_password("app", "app-secret"), host, port).ok())
            return;
          relay(accepted.native_handle(), socks.fd());
        }) {}
  std::uint16_t port() const { return server_.port(); }

 private:
  // Copies both ways until both directions ended, passing each end of stream on as a half-close.
  static void relay(int a, int b) {
    std::array<pollfd, 2> fds{pollfd{a, POLLIN, 0}, pollfd{b, POLLIN, 0}};
    std::array<char, 16384> buffer;
    int open_directions = 2;
    while (open_directions > 0 && ::poll(fds.data(), fds.size(), static_cast<int>(kGuard.count())) > 0) {
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const int to = i == 0 ? b : a;
        const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
        if (n <= 0 || ::write(to, buffer.data(), static_cast<std::size_t>(n)) != n) {
          ::shutdown(to, SHUT_WR);
          fds[i].fd = -1;
          --open_directions;
        }
      }
    }
  }

  ThreadedServer server_;
};

TEST(LdapRoutePair, AnEdgeAndAConnectorProcessEnforceTheConnectorsPolicy) {
  Slapd slapd;
  OnPremiseDestination destination;
  destination.name = "directory";
  destination.address = "directory.internal:389";
  destination.route_type = "ldap";
  destination.settings = kServiceBind;
  SystemSpec system;
  system.virtual_host = "directory.internal";
  system.virtual_port = "389";
  system.internal_port = slapd.ldap_port();
  system.route_type = "ldap";
  system.settings = "{operations: [search, bind, unbind, whoami], base_dns: ['ou=people,dc=example,dc=com']}";
  EdgeSpec edge;
  edge.destinations = {destination};
  edge.socks5 = Socks5Spec{{"password"}, {ProxyUser{"app", "app-secret"}}};
  ConnectorSpec connector;
  connector.systems = {system};
  TunnelPair pair(edge, connector);
  ASSERT_TRUE(pair.start());
  const std::string url = "ldap://127.0.0.1:" + std::to_string(pair.edge().port("directory"));

  CommandResult found = ldapsearch(url, {"-b", slapd.people_dn(), "(uid=user11)", "cn"});
  ASSERT_EQ(exit_code(found), 0) << describe(found);
  CommandResult direct = ldapsearch(slapd.url(), {"-b", slapd.people_dn(), "(uid=user11)", "cn"});
  EXPECT_EQ(parse_ldif(found.out), parse_ldif(direct.out));
  // compare is not in this system's list.
  CommandResult compare = ldap_tool({"ldapcompare", "-x", "-H", url, slapd.person_dn(11), "cn:User 11"});
  EXPECT_EQ(exit_code(compare), 50) << describe(compare);

  // Through SOCKS5 the virtual host:port finds the same ldap destination, bind injection included.
  SocksForwarder forwarder(pair.edge().socks_port(), "directory.internal", 389);
  const std::string via_socks = "ldap://127.0.0.1:" + std::to_string(forwarder.port());
  CommandResult whoami = ldapwhoami(via_socks, {});
  EXPECT_EQ(whoami.out, "dn:" + slapd.service_dn() + "\n") << describe(whoami);
  CommandResult socks_found = ldapsearch(via_socks, {"-b", slapd.people_dn(), "(uid=user11)", "cn"});
  EXPECT_EQ(parse_ldif(socks_found.out), parse_ldif(direct.out)) << describe(socks_found);
  CommandResult socks_outside = ldapsearch(via_socks, {"-b", slapd.groups_dn(), "(cn=*)"});
  EXPECT_EQ(exit_code(socks_outside), 50) << describe(socks_outside);

  EXPECT_FALSE(
      pair.connector().wait_for_audit(audit_event("ldap.denied", {{"operation", "compare"}})).empty());
  EXPECT_FALSE(
      pair.connector()
          .wait_for_audit(audit_event("ldap.operation", {{"operation", "search"}, {"result_code", "0"}}))
          .empty());
}

}  // namespace
}  // namespace gw::e2e
