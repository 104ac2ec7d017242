#include <gtest/gtest.h>
#include <lber.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "ldap_codec.hpp"
#include "ldap_policy.hpp"
#include "unit/ber_builder.hpp"

using namespace gw::ldap;
using namespace gw::ldap::test;

namespace {

Dn parse_dn(std::string_view text) {
  std::string error;
  auto parsed = Dn::parse(text, error);
  EXPECT_TRUE(parsed) << text << ": " << error;
  return parsed.value_or(Dn());
}

PolicyConfig config(std::vector<std::string> operations, std::vector<std::string> bases = {},
                    std::vector<std::string> denied = {}) {
  PolicyConfig c;
  c.operations = OperationSet::parse(operations);
  for (const std::string& base : bases) c.base_dns.push_back(parse_dn(base));
  c.denied_attributes = std::move(denied);
  return c;
}

Message request(Op op, std::string dn = {}) {
  Message m;
  m.id = 2;
  m.op = op;
  m.dn = std::move(dn);
  return m;
}

Message search(std::string base, Scope scope = Scope::subtree,
               std::vector<std::string> filter_attributes = {"cn"}) {
  Message m = request(Op::search_request, std::move(base));
  m.scope = scope;
  m.filter_attributes = std::move(filter_attributes);
  return m;
}

Message extended(std::string_view oid) {
  Message m = request(Op::extended_request);
  m.oid = std::string(oid);
  return m;
}

Message modify_dn(std::string entry, std::string new_rdn,
                  std::optional<std::string> superior = std::nullopt) {
  Message m = request(Op::modify_dn_request, std::move(entry));
  m.new_rdn = std::move(new_rdn);
  m.new_superior = std::move(superior);
  return m;
}

Message compare(std::string entry, std::string attribute) {
  Message m = request(Op::compare_request, std::move(entry));
  m.entry_attributes = {std::move(attribute)};
  return m;
}

std::string parse_error(const std::vector<std::string>& names) {
  try {
    OperationSet::parse(names);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "parsed";
  return {};
}

void expect_denied(const Decision& decision, int code, std::string_view fragment) {
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.result_code, code);
  EXPECT_NE(decision.reason.find(fragment), std::string::npos) << decision.reason;
}

const std::vector<std::string> kPeople = {"ou=People,dc=example,dc=com"};

}  // namespace

// ---- operation sets -------------------------------------------------------------------------------

TEST(LdapOperationSet, NamedOperations) {
  const OperationSet set = OperationSet::parse(
      {"bind", "unbind", "abandon", "search", "compare", "modify", "add", "delete", "modify_dn"});
  for (Op op :
       {Op::bind_request, Op::unbind_request, Op::abandon_request, Op::search_request, Op::compare_request,
        Op::modify_request, Op::add_request, Op::delete_request, Op::modify_dn_request}) {
    EXPECT_TRUE(set.allows(op)) << op_name(op);
  }
  EXPECT_TRUE(set.extended_oids.empty());
  EXPECT_FALSE(set.allows(Op::extended_request));
  EXPECT_FALSE(set.allows(Op::search_result_entry));
}

TEST(LdapOperationSet, ExtendedOperationsByNameAndOid) {
  const OperationSet set =
      OperationSet::parse({"whoami", "starttls", "password_modify", "extended:1.3.6.1.4.1.42.2"});
  EXPECT_TRUE(set.allows_extended(kWhoAmIOid));
  EXPECT_TRUE(set.allows_extended(kStartTlsOid));
  EXPECT_TRUE(set.allows_extended(kPasswordModifyOid));
  EXPECT_TRUE(set.allows_extended("1.3.6.1.4.1.42.2"));
  EXPECT_FALSE(set.allows_extended("1.3.6.1.4.1.42"));
  EXPECT_FALSE(set.allows_extended(""));
  EXPECT_TRUE(set.ops.empty());
}

TEST(LdapOperationSet, ReadOnlyPreset) {
  const OperationSet set = OperationSet::parse({"read-only"});
  EXPECT_EQ(set.ops, (std::set<Op>{Op::bind_request, Op::unbind_request, Op::abandon_request,
                                   Op::search_request, Op::compare_request}));
  EXPECT_EQ(set.extended_oids, (std::set<std::string>{std::string(kWhoAmIOid), std::string(kStartTlsOid)}));
}

TEST(LdapOperationSet, ReadWritePreset) {
  const OperationSet set = OperationSet::parse({"read-write"});
  EXPECT_EQ(set.ops.size(), 9U);
  for (Op op :
       {Op::modify_request, Op::add_request, Op::delete_request, Op::modify_dn_request, Op::search_request}) {
    EXPECT_TRUE(set.allows(op)) << op_name(op);
  }
  EXPECT_EQ(set.extended_oids, (std::set<std::string>{std::string(kWhoAmIOid), std::string(kStartTlsOid),
                                                      std::string(kPasswordModifyOid)}));
  // presets combine with other entries
  const OperationSet more = OperationSet::parse({"read-only", "delete", "extended:1.2.3"});
  EXPECT_TRUE(more.allows(Op::delete_request));
  EXPECT_FALSE(more.allows(Op::add_request));
  EXPECT_TRUE(more.allows_extended("1.2.3"));
}

TEST(LdapOperationSet, UnknownNamesAreRejectedWithTheirPosition) {
  EXPECT_EQ(parse_error({"bind", "search", "serch"}), "operations[2]: unknown operation 'serch'");
  EXPECT_EQ(parse_error({"Search"}), "operations[0]: unknown operation 'Search'");
  EXPECT_EQ(parse_error({""}), "operations[0]: unknown operation ''");
  EXPECT_EQ(parse_error({"read", "bind"}), "operations[0]: unknown operation 'read'");
}

TEST(LdapOperationSet, MalformedOidsAreRejected) {
  for (const std::string oid :
       {"", "1", "1.", ".1", "1..2", "01.2", "1.02", "a.b", "1.2.x", "1.2 ", " 1.2"}) {
    const std::string error = parse_error({"search", "extended:" + oid});
    EXPECT_EQ(error, "operations[1]: malformed OID '" + oid + "' in 'extended:" + oid + "'");
  }
  EXPECT_NO_THROW(OperationSet::parse({"extended:0.0", "extended:2.999.10"}));
}

TEST(LdapOperationSet, EmptyAllowsNothing) {
  const Policy policy(config({}));
  expect_denied(policy.check(request(Op::bind_request)), result::insufficient_access_rights,
                "operation 'bind' is not allowed");
  expect_denied(policy.check(extended(kStartTlsOid)), result::insufficient_access_rights, kStartTlsOid);
}

// ---- operations -----------------------------------------------------------------------------------

TEST(LdapPolicy, ReadOnlyDeniesWrites) {
  const Policy policy(config({"read-only"}));
  EXPECT_TRUE(policy.check(search("dc=example,dc=com")).allowed);
  EXPECT_TRUE(policy.check(compare("dc=example,dc=com", "cn")).allowed);
  EXPECT_TRUE(policy.check(extended(kWhoAmIOid)).allowed);
  EXPECT_TRUE(policy.check(extended(kStartTlsOid)).allowed);
  for (Op op : {Op::modify_request, Op::add_request, Op::delete_request}) {
    expect_denied(policy.check(request(op, "uid=a,dc=example,dc=com")), result::insufficient_access_rights,
                  "operation '" + std::string(op_name(op)) + "' is not allowed");
  }
  expect_denied(policy.check(modify_dn("uid=a,dc=example,dc=com", "uid=b")),
                result::insufficient_access_rights, "operation 'modify_dn' is not allowed");
  expect_denied(policy.check(extended(kPasswordModifyOid)), result::insufficient_access_rights,
                "extended operation '1.3.6.1.4.1.4203.1.11.1' is not allowed");
}

TEST(LdapPolicy, ReadWriteAllowsWrites) {
  const Policy policy(config({"read-write"}, kPeople));
  for (Op op : {Op::modify_request, Op::add_request, Op::delete_request}) {
    EXPECT_TRUE(policy.check(request(op, "uid=a,ou=people,dc=example,dc=com")).allowed) << op_name(op);
  }
  Message change = extended(kPasswordModifyOid);
  change.password_identity = "uid=a,ou=people,dc=example,dc=com";
  EXPECT_TRUE(policy.check(change).allowed);
  expect_denied(policy.check(extended("1.3.6.1.4.1.4203.1.11.99")), result::insufficient_access_rights,
                "is not allowed");
}

TEST(LdapPolicy, APasswordChangeMustNameItsUserWhileBaseDnsAreSet) {
  // Without an identity the bound user's password changes: under bind injection, the service
  // account's.
  expect_denied(Policy(config({"read-write"}, kPeople)).check(extended(kPasswordModifyOid)),
                result::insufficient_access_rights, "without a user identity");
  EXPECT_TRUE(Policy(config({"read-write"})).check(extended(kPasswordModifyOid)).allowed);
}

TEST(LdapPolicy, SearchOnlyConnector) {
  const Policy policy(config({"search"}));
  EXPECT_TRUE(policy.check(search("dc=example,dc=com")).allowed);
  expect_denied(policy.check(request(Op::bind_request)), result::insufficient_access_rights, "'bind'");
  expect_denied(policy.check(request(Op::unbind_request)), result::insufficient_access_rights, "'unbind'");
  expect_denied(policy.check(compare("dc=example,dc=com", "cn")), result::insufficient_access_rights,
                "'compare'");
}

TEST(LdapPolicy, BindUnbindAndAbandonIgnoreTheBaseDns) {
  const Policy policy(config({"bind", "unbind", "abandon"}, kPeople));
  EXPECT_TRUE(policy.check(request(Op::bind_request, "cn=admin,dc=other")).allowed);
  EXPECT_TRUE(policy.check(request(Op::bind_request, "not a dn")).allowed);
  EXPECT_TRUE(policy.check(request(Op::unbind_request)).allowed);
  EXPECT_TRUE(policy.check(request(Op::abandon_request)).allowed);
}

TEST(LdapPolicy, ResponsesAreNotRequests) {
  const Policy policy(config({"read-write"}));
  const Decision decision = policy.check(request(Op::search_result_entry, "dc=x"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.result_code, result::protocol_error);
}

TEST(LdapPolicy, ExplicitExtendedOid) {
  const Policy policy(config({"extended:1.3.6.1.4.1.1466.101.119.1"}));
  EXPECT_TRUE(policy.check(extended("1.3.6.1.4.1.1466.101.119.1")).allowed);
  expect_denied(policy.check(extended(kWhoAmIOid)), result::insufficient_access_rights, kWhoAmIOid);
}

// ---- subtrees -------------------------------------------------------------------------------------

TEST(LdapPolicy, SearchBaseMustLieInABaseDn) {
  const Policy policy(config({"search"}, {"ou=People,dc=example,dc=com", "ou=Groups,dc=example,dc=com"}));
  EXPECT_TRUE(policy.check(search("ou=people,dc=example,dc=com")).allowed);
  EXPECT_TRUE(policy.check(search("uid=a,OU=People,DC=Example,DC=Com", Scope::base)).allowed);
  EXPECT_TRUE(policy.check(search("cn=admins,ou=groups,dc=example,dc=com")).allowed);
  expect_denied(policy.check(search("dc=example,dc=com")), result::insufficient_access_rights,
                "base DN 'dc=example,dc=com' is outside the allowed subtrees");
  expect_denied(policy.check(search("ou=hosts,dc=example,dc=com")), result::insufficient_access_rights,
                "outside");
  expect_denied(policy.check(search("ou=people,dc=example,dc=org")), result::insufficient_access_rights,
                "outside");
  expect_denied(policy.check(search("", Scope::subtree)), result::insufficient_access_rights, "outside");
  expect_denied(policy.check(search("", Scope::one_level)), result::insufficient_access_rights, "outside");
}

TEST(LdapPolicy, InvalidDnsAreInvalidDnSyntax) {
  const Policy policy(config({"read-write"}, kPeople));
  expect_denied(policy.check(search("ou=people;dc=example")), result::invalid_dn_syntax,
                "invalid base DN 'ou=people;dc=example'");
  for (Op op : {Op::modify_request, Op::add_request, Op::delete_request}) {
    expect_denied(policy.check(request(op, "uid=a,,ou=people,dc=example,dc=com")), result::invalid_dn_syntax,
                  "invalid DN");
  }
  expect_denied(policy.check(compare("=x", "cn")), result::invalid_dn_syntax, "invalid DN '=x'");
  expect_denied(policy.check(modify_dn("x", "cn=y")), result::invalid_dn_syntax, "invalid DN 'x'");
  expect_denied(policy.check(search(std::string("ou=people\0,dc=x", 15))), result::invalid_dn_syntax, "NUL");
}

TEST(LdapPolicy, WithoutBaseDnsAnyDnIsAllowed) {
  const Policy policy(config({"read-write"}));
  EXPECT_TRUE(policy.check(search("")).allowed);
  EXPECT_TRUE(policy.check(search("o=anything")).allowed);
  EXPECT_TRUE(policy.check(request(Op::delete_request, "cn=x,o=anything")).allowed);
  EXPECT_TRUE(policy.check(modify_dn("cn=x,o=anything", "cn=y")).allowed);
  EXPECT_TRUE(policy.check(modify_dn("cn=x,o=anything", "cn=y", "o=elsewhere")).allowed);
  // still parsed
  expect_denied(policy.check(request(Op::add_request, "garbage")), result::invalid_dn_syntax, "garbage");
}

TEST(LdapPolicy, RootDseIsReadableWheneverSearchIs) {
  const Policy policy(config({"search"}, kPeople));
  const Decision decision = policy.check(search("", Scope::base, {"objectClass"}));
  EXPECT_TRUE(decision.allowed);
  const Policy no_search(config({"bind"}, kPeople));
  expect_denied(no_search.check(search("", Scope::base, {"objectClass"})), result::insufficient_access_rights,
                "'search'");
}

TEST(LdapPolicy, WritesStayInsideTheBaseDns) {
  const Policy policy(config({"read-write"}, kPeople));
  for (Op op : {Op::modify_request, Op::add_request, Op::delete_request}) {
    EXPECT_TRUE(policy.check(request(op, "uid=a,ou=people,dc=example,dc=com")).allowed);
    expect_denied(policy.check(request(op, "uid=a,ou=admins,dc=example,dc=com")),
                  result::insufficient_access_rights, "DN 'uid=a,ou=admins,dc=example,dc=com' is outside");
    expect_denied(policy.check(request(op, "dc=example,dc=com")), result::insufficient_access_rights,
                  "outside");
  }
  expect_denied(policy.check(compare("cn=x,dc=other", "cn")), result::insufficient_access_rights, "outside");
}

TEST(LdapPolicy, ModifyDnChecksTheNewLocation) {
  const Policy policy(config({"modify_dn"}, kPeople));
  // rename in place
  EXPECT_TRUE(policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid=b")).allowed);
  // move within the subtree
  EXPECT_TRUE(policy
                  .check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid=a",
                                   "ou=staff,ou=people,dc=example,dc=com"))
                  .allowed);
  EXPECT_TRUE(policy
                  .check(modify_dn("uid=a,ou=staff,ou=people,dc=example,dc=com", "uid=a",
                                   "ou=People,dc=Example,dc=com"))
                  .allowed);
  // move out of the subtree
  expect_denied(
      policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid=a", "ou=admins,dc=example,dc=com")),
      result::insufficient_access_rights, "new superior 'ou=admins,dc=example,dc=com' is outside");
  // move in from outside
  expect_denied(
      policy.check(modify_dn("uid=a,ou=admins,dc=example,dc=com", "uid=a", "ou=people,dc=example,dc=com")),
      result::insufficient_access_rights, "DN 'uid=a,ou=admins,dc=example,dc=com' is outside");
  // renaming the base itself would move it out of the allowed subtree
  expect_denied(policy.check(modify_dn("ou=people,dc=example,dc=com", "ou=humans")),
                result::insufficient_access_rights, "would move it outside");
  // invalid new superior and new RDN
  expect_denied(policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid=a", "ou=x;;")),
                result::invalid_dn_syntax, "invalid new superior");
  expect_denied(policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid")),
                result::invalid_dn_syntax, "invalid new RDN 'uid'");
  expect_denied(policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "uid=b,ou=admins")),
                result::invalid_dn_syntax, "not a single RDN");
  expect_denied(policy.check(modify_dn("uid=a,ou=people,dc=example,dc=com", "")), result::invalid_dn_syntax,
                "invalid new RDN");
}

// ---- limits ---------------------------------------------------------------------------------------

TEST(LdapPolicy, SizeAndTimeCaps) {
  PolicyConfig c = config({"search"});
  c.max_size_limit = 500;
  c.max_time_limit = 10;
  const Policy policy(c);
  auto limited = [&](std::int32_t size, std::int32_t time) {
    Message m = search("dc=example,dc=com");
    m.size_limit = size;
    m.time_limit = time;
    return policy.check(m);
  };
  Decision none = limited(0, 0);  // "no limit" becomes the caps
  EXPECT_TRUE(none.allowed);
  EXPECT_EQ(none.size_limit, 500);
  EXPECT_EQ(none.time_limit, 10);
  Decision above = limited(100000, 3600);
  EXPECT_EQ(above.size_limit, 500);
  EXPECT_EQ(above.time_limit, 10);
  Decision below = limited(20, 5);
  EXPECT_TRUE(below.allowed);
  EXPECT_FALSE(below.size_limit);
  EXPECT_FALSE(below.time_limit);
  Decision equal = limited(500, 10);
  EXPECT_FALSE(equal.size_limit);
  EXPECT_FALSE(equal.time_limit);
  Decision mixed = limited(20, 0);
  EXPECT_FALSE(mixed.size_limit);
  EXPECT_EQ(mixed.time_limit, 10);
}

TEST(LdapPolicy, NoCapsLeaveLimitsAlone) {
  const Policy policy(config({"search"}));
  Message m = search("dc=example,dc=com");
  m.size_limit = 0;
  m.time_limit = 99999;
  const Decision decision = policy.check(m);
  EXPECT_TRUE(decision.allowed);
  EXPECT_FALSE(decision.size_limit);
  EXPECT_FALSE(decision.time_limit);
}

TEST(LdapPolicy, CapsApplyToRootDseReadsToo) {
  PolicyConfig c = config({"search"}, kPeople);
  c.max_size_limit = 1;
  const Policy policy(c);
  const Decision decision = policy.check(search("", Scope::base, {"objectClass"}));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.size_limit, 1);
  EXPECT_FALSE(decision.time_limit);
}

TEST(LdapPolicy, NegativeCapsAreAConfigurationError) {
  PolicyConfig c = config({"search"});
  c.max_size_limit = -1;
  EXPECT_THROW(Policy{c}, std::invalid_argument);
  c.max_size_limit = 0;
  c.max_time_limit = -5;
  EXPECT_THROW(Policy{c}, std::invalid_argument);
}

// ---- denied attributes ----------------------------------------------------------------------------

TEST(LdapPolicy, AttributeDeniedIgnoresCaseAndOptions) {
  const Policy policy(config({"search"}, {}, {"userPassword", "sambaNTPassword;binary"}));
  EXPECT_TRUE(policy.has_denied_attributes());
  EXPECT_TRUE(policy.attribute_denied("userPassword"));
  EXPECT_TRUE(policy.attribute_denied("USERPASSWORD"));
  EXPECT_TRUE(policy.attribute_denied("userpassword;binary"));
  EXPECT_TRUE(policy.attribute_denied("userPassword;lang-en;x-foo"));
  EXPECT_TRUE(policy.attribute_denied("sambaNTPassword"));
  EXPECT_TRUE(policy.attribute_denied("sambantpassword;binary"));
  EXPECT_FALSE(policy.attribute_denied("userPasswordX"));
  EXPECT_FALSE(policy.attribute_denied("user"));
  EXPECT_FALSE(policy.attribute_denied(""));
  EXPECT_FALSE(policy.attribute_denied(";userPassword"));
  EXPECT_FALSE(policy.attribute_denied("cn"));
  EXPECT_FALSE(Policy(config({"search"})).has_denied_attributes());
}

TEST(LdapPolicy, AKnownTypeIsDeniedUnderEveryNameAndItsOid) {
  const Policy policy(config({"search"}, {}, {"userPassword", "cn", "unicodePwd"}));
  EXPECT_TRUE(policy.attribute_denied("2.5.4.35"));
  EXPECT_TRUE(policy.attribute_denied("2.5.4.35;binary"));
  EXPECT_TRUE(policy.attribute_denied("commonName"));
  EXPECT_TRUE(policy.attribute_denied("2.5.4.3;lang-de"));
  EXPECT_TRUE(policy.attribute_denied("1.2.840.113556.1.4.90"));
  EXPECT_FALSE(policy.attribute_denied("2.5.4.4"));  // sn
  EXPECT_FALSE(policy.attribute_denied("surname"));
  // Listed by OID, denied by name.
  const Policy by_oid(config({"search"}, {}, {"2.5.4.35"}));
  EXPECT_TRUE(by_oid.attribute_denied("userPassword"));
  EXPECT_TRUE(by_oid.attribute_denied("USERPASSWORD;binary"));
}

TEST(LdapPolicy, AnUnknownTypeIsDeniedAsListedAndUnknownOidsCountAsDenied) {
  const Policy policy(config({"search"}, {}, {"x-apiToken", "1.3.6.1.4.1.99999.7"}));
  EXPECT_TRUE(policy.attribute_denied("X-APITOKEN;binary"));
  EXPECT_TRUE(policy.attribute_denied("1.3.6.1.4.1.99999.7"));
  // Any other numeric OID may be x-apiToken's: the gateway cannot tell without the schema.
  EXPECT_TRUE(policy.attribute_denied("1.3.6.1.4.1.99999.8"));
  expect_denied(policy.check(search("dc=x", Scope::subtree, {"1.3.6.1.4.1.99999.8"})),
                result::insufficient_access_rights, "filter on denied attribute '1.3.6.1.4.1.99999.8'");
  EXPECT_FALSE(policy.attribute_denied("x-apiTokens"));
  EXPECT_FALSE(policy.attribute_denied("2.5.4.3"));  // known: cn
  // With nothing denied an unknown OID is just an attribute.
  EXPECT_TRUE(
      Policy(config({"search"})).check(search("dc=x", Scope::subtree, {"1.3.6.1.4.1.99999.8"})).allowed);
}

TEST(LdapPolicy, FiltersAndComparesOnASupertypeOfADeniedTypeAreRefused) {
  const Policy policy(config({"read-write"}, {}, {"sn", "member"}));
  // (name=Smith) matches sn values as well.
  expect_denied(policy.check(search("dc=x", Scope::subtree, {"objectClass", "NAME"})),
                result::insufficient_access_rights, "filter on denied attribute 'NAME'");
  expect_denied(policy.check(search("dc=x", Scope::subtree, {"2.5.4.41"})),
                result::insufficient_access_rights, "filter on denied attribute '2.5.4.41'");
  expect_denied(policy.check(compare("cn=g,dc=x", "distinguishedName")), result::insufficient_access_rights,
                "compare of denied attribute 'distinguishedName'");
  EXPECT_TRUE(policy.check(search("dc=x", Scope::subtree, {"cn", "givenName"})).allowed);
  // Entries and modifies name real types: a supertype is not the denied type itself.
  EXPECT_FALSE(policy.attribute_denied("name"));
  EXPECT_FALSE(policy.attribute_denied("distinguishedName"));
  EXPECT_TRUE(policy.attribute_reveals_denied("surname"));
  EXPECT_FALSE(policy.attribute_reveals_denied("cn"));
}

TEST(LdapPolicy, ADeniedAttributeMustBeAnAttributeType) {
  for (const char* bad : {"", "user password", "1.", "2.5.4.035", "cn;", "-cn", "cn;lang de", "cn=x"}) {
    try {
      Policy{config({"search"}, {}, {"mail", bad})};
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("denied_attributes[1]: '" + std::string(bad) + "'"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_NO_THROW(Policy{config({"search"}, {}, {"cn;lang-de", "2.5.4.35", "x-api-Token1"})});
}

TEST(LdapPolicy, FiltersOnDeniedAttributesAreRefused) {
  const Policy policy(config({"read-only"}, {}, {"userPassword"}));
  EXPECT_TRUE(policy.check(search("dc=x", Scope::subtree, {"cn", "mail"})).allowed);
  expect_denied(policy.check(search("dc=x", Scope::subtree, {"cn", "UserPassword;binary"})),
                result::insufficient_access_rights, "filter on denied attribute 'UserPassword;binary'");
}

TEST(LdapPolicy, DeniedAttributesNestedInFiltersFromTheWire) {
  const Policy policy(config({"read-only"}, {}, {"userPassword", "mail"}));
  // '(&(objectClass=person)(|(cn=J*)(!(mail=*))))' as ldapsearch sends it (mail sits under a not in an or)
  const std::string wire =
      "308189020102635f041b6f753d70656f706c652c64633d6578616d706c652c64633d636f6d0a01010a01000201000201000101"
      "00a02ca315040b6f626a656374436c6173730406706572736f6ea113a4090402636e300380014aa20687046d61696c30030401"
      "2aa02330210416312e322e3834302e3131333535362e312e342e333139040730050201050400";
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i + 1 < wire.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(wire.substr(i, 2), nullptr, 16)));
  }
  std::string error;
  auto message = decode(bytes, error);
  ASSERT_TRUE(message) << error;
  expect_denied(policy.check(*message), result::insufficient_access_rights, "'mail'");
  const Policy lenient(config({"read-only"}, {}, {"userPassword"}));
  EXPECT_TRUE(lenient.check(*message).allowed);
}

TEST(LdapPolicy, ExtensibleMatchOnAnyAttributeIsRefusedWhenAttributesAreDenied) {
  // (:octetStringMatch:=secret) would test userPassword too.
  Message m = search("dc=x", Scope::subtree, {});
  m.filter_matches_any_attribute = true;
  expect_denied(Policy(config({"search"}, {}, {"userPassword"})).check(m), result::insufficient_access_rights,
                "extensible match on any attribute");
  EXPECT_TRUE(Policy(config({"search"})).check(m).allowed);
}

TEST(LdapPolicy, ComparesOfDeniedAttributesAreRefused) {
  const Policy policy(config({"read-only"}, kPeople, {"userPassword"}));
  EXPECT_TRUE(policy.check(compare("uid=a,ou=people,dc=example,dc=com", "cn")).allowed);
  expect_denied(policy.check(compare("uid=a,ou=people,dc=example,dc=com", "userPassword")),
                result::insufficient_access_rights, "compare of denied attribute 'userPassword'");
  expect_denied(policy.check(compare("uid=a,ou=people,dc=example,dc=com", "USERPASSWORD;binary")),
                result::insufficient_access_rights, "compare of denied attribute");
}

TEST(LdapPolicy, ModifiesOfDeniedAttributesAreRefused) {
  const Policy policy(config({"read-write"}, kPeople, {"userPassword"}));
  Message modify = request(Op::modify_request, "uid=a,ou=people,dc=example,dc=com");
  modify.entry_attributes = {"mail", "description"};
  EXPECT_TRUE(policy.check(modify).allowed);
  // "delete value X" succeeds only when X is the value: as telling as a compare.
  modify.entry_attributes = {"mail", "UserPassword"};
  expect_denied(policy.check(modify), result::insufficient_access_rights,
                "modify of denied attribute 'UserPassword'");
}

TEST(LdapPolicy, AliasesAreNotDereferencedWhenBaseDnsAreSet) {
  const Policy bounded(config({"search"}, kPeople));
  for (int deref : {1, 2, 3}) {
    Message m = search("ou=people,dc=example,dc=com");
    m.deref_aliases = deref;
    const Decision decision = bounded.check(m);
    EXPECT_TRUE(decision.allowed);
    EXPECT_EQ(decision.deref_aliases, 0) << deref;
  }
  Message never = search("ou=people,dc=example,dc=com");
  EXPECT_FALSE(bounded.check(never).deref_aliases.has_value());
  const Policy unbounded(config({"search"}));
  Message always = search("o=anything");
  always.deref_aliases = 3;
  EXPECT_FALSE(unbounded.check(always).deref_aliases.has_value());
}

TEST(LdapPolicy, DeniedAttributesAreStrippedFromEntries) {
  const Policy policy(config({"read-only"}, {}, {"userPassword", "jpegPhoto"}));
  // An entry as a server sends it, built with liblber as the server does.
  BerElement* ber = ber_alloc_t(LBER_USE_DER);
  ASSERT_NE(ber_printf(ber, "{it{s{{s[s]}{s[s]}{s[s]}{s[s]}}}}", static_cast<ber_int_t>(3),
                       static_cast<ber_tag_t>(0x64), "cn=a", "cn", "A", "userPassword;binary", "x",
                       "JPEGPHOTO", "y", "mail", "m"),
            -1);
  berval flat{};
  ASSERT_EQ(ber_flatten2(ber, &flat, 0), 0);
  const std::vector<std::uint8_t> bytes(flat.bv_val, flat.bv_val + flat.bv_len);
  ber_free(ber, 1);
  std::string error;
  auto entry = decode(bytes, error);
  ASSERT_TRUE(entry) << error;
  EXPECT_EQ(entry->entry_attributes,
            (std::vector<std::string>{"cn", "userPassword;binary", "JPEGPHOTO", "mail"}));
  const auto stripped_bytes =
      encode_entry_without(*entry, [&policy](std::string_view d) { return policy.attribute_denied(d); });
  auto stripped = decode(stripped_bytes, error);
  ASSERT_TRUE(stripped) << error;
  EXPECT_EQ(stripped->entry_attributes, (std::vector<std::string>{"cn", "mail"}));
  EXPECT_EQ(stripped->dn, "cn=a");
}

TEST(LdapPolicy, ConfigIsKept) {
  PolicyConfig c = config({"search"}, kPeople, {"userPassword"});
  c.max_size_limit = 7;
  const Policy policy(c);
  EXPECT_EQ(policy.config().max_size_limit, 7);
  ASSERT_EQ(policy.config().base_dns.size(), 1U);
  EXPECT_EQ(policy.config().base_dns[0].normalized(), "ou=people,dc=example,dc=com");
  EXPECT_EQ(policy.config().denied_attributes, std::vector<std::string>{"userPassword"});
}

TEST(LdapPolicy, PasswordModifyOfAnIdentityOutsideTheSubtreesIsRefused) {
  const Policy policy(config({"read-write"}, kPeople));
  Message inside = extended(kPasswordModifyOid);
  inside.password_identity = "uid=bob,OU=People,dc=example,dc=com";
  EXPECT_TRUE(policy.check(inside).allowed);
  inside.password_identity = "dn:uid=bob,ou=people,dc=example,dc=com";
  EXPECT_TRUE(policy.check(inside).allowed);
  Message outside = extended(kPasswordModifyOid);
  outside.password_identity = "cn=admin,dc=example,dc=com";
  expect_denied(policy.check(outside), result::insufficient_access_rights, "outside the allowed subtrees");
  outside.password_identity = "u:bob";
  expect_denied(policy.check(outside), result::insufficient_access_rights, "not a DN");
  outside.password_identity = "";
  expect_denied(policy.check(outside), result::insufficient_access_rights, "outside the allowed subtrees");
  // Without base DNs any identity is the directory's business.
  const Policy open_policy(config({"read-write"}));
  EXPECT_TRUE(open_policy.check(outside).allowed);
}

// ---- DNs named by case-sensitive types ------------------------------------------------------------

namespace {

Decision search_under(const Policy& policy, const std::string& base) {
  return policy.check(search(base, Scope::subtree));
}

}  // namespace

TEST(LdapPolicy, SubtreesNamedByCaseSensitiveTypesKeepTheirCase) {
  // memberUid compares with caseExactIA5Match: slapd keeps memberUid=Alice and memberUid=alice apart,
  // so the entries below the second are outside a subtree named by the first.
  const Policy policy(config({"search"}, {"cn=ma+memberUid=Alice,cn=grp,dc=example,dc=com",
                                          "homeDirectory=/home/Alice,dc=example,dc=com"}));
  EXPECT_TRUE(search_under(policy, "uid=x,memberUid=Alice+CN=MA,cn=GRP,dc=example,dc=com").allowed);
  expect_denied(search_under(policy, "uid=x,memberUid=alice+cn=ma,cn=grp,dc=example,dc=com"),
                result::insufficient_access_rights, "outside the allowed subtrees");
  expect_denied(search_under(policy, "uid=x,memberUid=ALICE+cn=ma,cn=grp,dc=example,dc=com"),
                result::insufficient_access_rights, "outside the allowed subtrees");
  EXPECT_TRUE(search_under(policy, "cn=x,HOMEDIRECTORY=/home/Alice,dc=Example,dc=com").allowed);
  expect_denied(search_under(policy, "cn=x,homeDirectory=/home/alice,dc=example,dc=com"),
                result::insufficient_access_rights, "outside the allowed subtrees");
  // A type the gateway does not know may be case-sensitive: its values must match exactly.
  const Policy custom(config({"search"}, {"x-tenant=Acme,o=org"}));
  EXPECT_TRUE(search_under(custom, "uid=a,X-Tenant=Acme,O=ORG").allowed);
  expect_denied(search_under(custom, "uid=a,x-tenant=acme,o=org"), result::insufficient_access_rights,
                "outside the allowed subtrees");
}

// ---- subtypes of denied types ---------------------------------------------------------------------

TEST(LdapPolicy, SubtypesOfADeniedTypeAreDeniedToo) {
  // Asked for postalAddress, slapd returns registeredAddress (its subtype) too, and
  // (postalAddress=x) matches a registeredAddress of x: its values are postalAddress values.
  const Policy policy(config({"read-write"}, {}, {"postalAddress", "name"}));
  EXPECT_TRUE(policy.attribute_denied("registeredAddress"));
  EXPECT_TRUE(policy.attribute_denied("2.5.4.26;binary"));
  EXPECT_TRUE(policy.attribute_denied("cn"));  // name's subtypes
  EXPECT_TRUE(policy.attribute_denied("surname"));
  EXPECT_FALSE(policy.attribute_denied("mail"));
  expect_denied(policy.check(search("dc=x", Scope::subtree, {"registeredAddress"})),
                result::insufficient_access_rights, "filter on denied attribute 'registeredAddress'");
  expect_denied(policy.check(compare("cn=a,dc=x", "givenName")), result::insufficient_access_rights,
                "compare of denied attribute 'givenName'");
  Message modify = request(Op::modify_request, "cn=a,dc=x");
  modify.entry_attributes = {"registeredAddress"};
  expect_denied(policy.check(modify), result::insufficient_access_rights, "modify of denied attribute");
  EXPECT_TRUE(policy.check(search("dc=x", Scope::subtree, {"mail", "objectClass"})).allowed);
}

// ---- controls -------------------------------------------------------------------------------------

namespace {

// One BER element written by ber_printf, as a string.
template <typename... Args>
std::string ber_value(const char* format, Args... args) {
  const Bytes bytes = ber(format, args...);
  return std::string(bytes.begin(), bytes.end());
}

// A request as a client library sends it: `value` written by ber_printf, then decoded.
Message decoded(const std::string& value) {
  std::string error;
  auto message = decode(std::vector<std::uint8_t>(value.begin(), value.end()), error);
  EXPECT_TRUE(message) << error;
  return message.value_or(Message());
}

// A compare of cn on `entry` with one critical control `oid` whose value is `value`.
Message compare_with_control(const std::string& entry, const char* oid, const std::string& value) {
  return decoded(ber_value("{it{s{ss}}t{{sbo}}}", num(4), tag(0x6e), entry.c_str(), "cn", "a", tag(0xa0), oid,
                           num(1), value.data(), len(value.size())));
}

// A subtree search of `base` for (objectClass=*) with one control `oid` (critical unless said
// otherwise), with `value` if set.
Message search_with_control(const std::string& base, const char* oid, const std::optional<std::string>& value,
                            bool critical = true) {
  const ber_int_t criticality = critical ? 1 : 0;
  if (!value) {
    return decoded(ber_value("{it{seeiibts{}}t{{sb}}}", num(5), tag(0x63), base.c_str(), num(2), num(0),
                             num(0), num(0), num(0), tag(0x87), "objectClass", tag(0xa0), oid, criticality));
  }
  return decoded(ber_value("{it{seeiibts{}}t{{sbo}}}", num(5), tag(0x63), base.c_str(), num(2), num(0),
                           num(0), num(0), num(0), tag(0x87), "objectClass", tag(0xa0), oid, criticality,
                           value->data(), len(value->size())));
}

PolicyConfig allowing(PolicyConfig c, const std::vector<std::string>& controls) {
  c.controls = ControlSet::parse(controls);
  return c;
}

const std::string kPerson = "uid=user0,ou=people,dc=example,dc=com";

}  // namespace

TEST(LdapPolicy, AssertionControlsOnDeniedAttributesAreRefused) {
  // An operation with the assertion (userPassword=guess) fails with assertionFailed (122) unless the
  // entry holds that password: slapd answers a compare in disguise.
  const Policy policy(config({"read-write"}, kPeople, {"userPassword"}));
  const std::string oid(kAssertionControlOid);
  const std::string on_password = ber_value("t{ss}", tag(0xa3), "userPassword", "guess");
  Message compare_request = compare_with_control(kPerson, oid.c_str(), on_password);
  EXPECT_EQ(compare_request.assertion_attributes, std::vector<std::string>{"userPassword"});
  expect_denied(policy.check(compare_request), result::insufficient_access_rights,
                "assertion control on denied attribute 'userPassword'");
  expect_denied(policy.check(search_with_control(kPerson, oid.c_str(), on_password)),
                result::insufficient_access_rights, "assertion control on denied attribute");
  // Nested, by OID, and on a supertype.
  const std::string nested =
      ber_value("t[t{ss}t{t{ss}}]", tag(0xa0), tag(0xa3), "cn", "a", tag(0xa2), tag(0xa8), "2.5.4.35", "g");
  expect_denied(policy.check(search_with_control(kPerson, oid.c_str(), nested)),
                result::insufficient_access_rights, "'2.5.4.35'");
  // (:octetStringMatch:=guess) tests every attribute.
  const std::string any = ber_value("t{tsts}", tag(0xa9), tag(0x81), "octetStringMatch", tag(0x83), "guess");
  expect_denied(policy.check(compare_with_control(kPerson, oid.c_str(), any)),
                result::insufficient_access_rights, "extensible match on any attribute");
  // An assertion on other attributes passes.
  const std::string on_mail = ber_value("t{ss}", tag(0xa3), "mail", "a@example.com");
  EXPECT_TRUE(policy.check(compare_with_control(kPerson, oid.c_str(), on_mail)).allowed);
  EXPECT_TRUE(
      Policy(config({"read-only"})).check(compare_with_control(kPerson, oid.c_str(), on_password)).allowed);
}

TEST(LdapPolicy, SortControlsOnDeniedAttributesAreRefused) {
  // Sorted by userPassword (octetStringOrderingMatch), and with a VLV target, the position an entry
  // lands at tells its password, one comparison at a time.
  const Policy policy(config({"read-only"}, kPeople, {"userPassword"}));
  const std::string oid(kSortControlOid);
  const std::string by_password =
      ber_value("{{s}{sts}}", "sn", "USERPASSWORD", tag(0x80), "octetStringOrderingMatch");
  Message sorted = search_with_control("ou=people,dc=example,dc=com", oid.c_str(), by_password);
  EXPECT_EQ(sorted.sort_attributes, (std::vector<std::string>{"sn", "USERPASSWORD"}));
  expect_denied(policy.check(sorted), result::insufficient_access_rights,
                "sort control on denied attribute 'USERPASSWORD'");
  const std::string by_name =
      ber_value("{{ststb}}", "cn", tag(0x80), "caseIgnoreOrderingMatch", tag(0x81), num(1));
  EXPECT_TRUE(policy.check(search_with_control("ou=people,dc=example,dc=com", oid.c_str(), by_name)).allowed);
}

TEST(LdapPolicy, ReadEntryControlsAreRefusedWhileAttributesAreDenied) {
  // The pre-read and post-read controls return the entry in the response's controls, which the relay
  // does not strip: a modify with post-read of userPassword would hand the hash over.
  const Policy policy(config({"read-write"}, kPeople, {"userPassword"}));
  const Policy lenient(config({"read-write"}, kPeople));
  for (std::string_view oid : {kPreReadControlOid, kPostReadControlOid}) {
    const std::string attributes = ber_value("{s}", "userPassword");
    const Message modify = decoded(ber_value("{it{s{{e{s[s]}}}}t{{sbo}}}", num(6), tag(0x66), kPerson.c_str(),
                                             num(2), "description", "x", tag(0xa0), std::string(oid).c_str(),
                                             num(1), attributes.data(), len(attributes.size())));
    expect_denied(policy.check(modify), result::insufficient_access_rights,
                  "control '" + std::string(oid) + "' is not allowed while some attributes are denied");
    EXPECT_TRUE(lenient.check(modify).allowed);
  }
}

TEST(LdapPolicy, DerefControlIsRefusedWithBaseDnsOrDeniedAttributes) {
  // slapo-deref returns, inside each entry's response control, attributes of the entries its DN-valued
  // attributes point to: manager: uid=boss,ou=admins,... outside ou=people, userPassword included.
  const std::string oid(kDerefControlOid);
  const std::string spec = ber_value("{{s{ss}}}", "manager", "description", "userPassword");
  const Message search_request = search_with_control(kPerson, oid.c_str(), spec);
  const std::vector<std::string> with_deref{"standard", "deref"};
  expect_denied(Policy(allowing(config({"read-only"}, kPeople), with_deref)).check(search_request),
                result::insufficient_access_rights, "control '1.3.6.1.4.1.4203.666.5.16' is not allowed");
  expect_denied(
      Policy(allowing(config({"read-only"}, {}, {"userPassword"}), with_deref)).check(search_request),
      result::insufficient_access_rights, "is not allowed");
  EXPECT_TRUE(Policy(allowing(config({"read-only"}), with_deref)).check(search_request).allowed);
  // Other controls pass (paged results, ManageDsaIT without a value).
  EXPECT_TRUE(Policy(config({"read-only"}, kPeople, {"userPassword"}))
                  .check(search_with_control(kPerson, "2.16.840.1.113730.3.4.2", std::nullopt))
                  .allowed);
}

TEST(LdapPolicy, ModifyDnToANewRdnOfADeniedAttributeIsRefused) {
  // The new RDN's value is added to the entry: for a single-valued type (employeeNumber) slapd refuses
  // the rename with constraintViolation unless the value is already there, which tells the value.
  const Policy policy(config({"read-write"}, kPeople, {"employeeNumber"}));
  expect_denied(policy.check(modify_dn(kPerson, "uid=user0+employeeNumber=4711")),
                result::insufficient_access_rights, "names denied attribute 'employeenumber'");
  expect_denied(policy.check(modify_dn(kPerson, "2.16.840.1.113730.3.1.3=4711")),
                result::insufficient_access_rights, "names denied attribute");
  EXPECT_TRUE(policy.check(modify_dn(kPerson, "uid=user9")).allowed);
}

// ---- the controls a system allows ---------------------------------------------------------------------

TEST(LdapControlSet, NamesOidsAndTheStandardPreset) {
  const ControlSet standard = ControlSet::parse({"standard"});
  for (std::string_view oid : {"1.2.840.113556.1.4.319", "1.2.840.113556.1.4.473", "2.16.840.1.113730.3.4.9",
                               "1.3.6.1.1.12", "1.3.6.1.1.13.1", "1.3.6.1.1.13.2", "2.16.840.1.113730.3.4.2",
                               "1.3.6.1.4.1.42.2.27.8.5.1", "1.3.6.1.1.22"}) {
    EXPECT_TRUE(standard.allows(oid)) << oid;
  }
  for (std::string_view oid :
       {kDerefControlOid, kProxiedAuthorizationControlOid, kProxiedAuthorizationV1ControlOid,
        std::string_view("1.3.6.1.4.1.4203.666.5.12"), std::string_view("1.2.3.4")}) {
    EXPECT_FALSE(standard.allows(oid)) << oid;
  }
  EXPECT_EQ(standard.oids.size(), 9U);

  const ControlSet named = ControlSet::parse({"proxied_authorization", "relax", "1.2.3.4"});
  EXPECT_TRUE(named.allows(kProxiedAuthorizationControlOid));
  EXPECT_TRUE(named.allows(kProxiedAuthorizationV1ControlOid));
  EXPECT_TRUE(named.allows("1.3.6.1.4.1.4203.666.5.12"));
  EXPECT_TRUE(named.allows("1.2.3.4"));
  EXPECT_FALSE(named.allows("1.2.840.113556.1.4.319"));
  EXPECT_TRUE(ControlSet::parse({}).oids.empty());
  EXPECT_TRUE(PolicyConfig().controls.allows("1.2.840.113556.1.4.319")) << "standard is the default";
}

TEST(LdapControlSet, UnknownNamesAndMalformedOidsAreRejectedWithTheirPosition) {
  const auto error = [](const std::vector<std::string>& names) -> std::string {
    try {
      ControlSet::parse(names);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "parsed";
  };
  EXPECT_EQ(error({"standard", "pagedresults"}), "controls[1]: unknown control 'pagedresults'");
  EXPECT_EQ(error({"1.2..3"}), "controls[0]: malformed OID '1.2..3'");
  EXPECT_EQ(error({"1.2.3."}), "controls[0]: malformed OID '1.2.3.'");
  EXPECT_EQ(error({""}), "controls[0]: unknown control ''");
  EXPECT_EQ(error({"Standard"}), "controls[0]: unknown control 'Standard'");
}

TEST(LdapPolicy, ACriticalControlNotAllowedIsUnavailable) {
  // RFC 4511 4.1.11: a server that will not apply a critical control answers
  // unavailableCriticalExtension and does not perform the operation.
  const Policy policy(config({"read-only"}, kPeople));
  expect_denied(policy.check(search_with_control(kPerson, "1.3.6.1.4.1.4203.666.5.12", std::nullopt)),
                result::unavailable_critical_extension,
                "critical control '1.3.6.1.4.1.4203.666.5.12' is not allowed on this system");
  // Also on operations judged by their kind alone.
  Message bind = decoded(ber_value("{it{isto}t{{sb}}}", num(1), tag(0x60), num(3), "", tag(0x80), "", len(0),
                                   tag(0xa0), "1.2.3.4", num(1)));
  expect_denied(policy.check(bind), result::unavailable_critical_extension, "'1.2.3.4'");
  // The operation check comes first.
  expect_denied(Policy(config({"search"}, kPeople)).check(compare_with_control(kPerson, "1.2.3.4", "x")),
                result::insufficient_access_rights, "operation 'compare' is not allowed");
}

TEST(LdapPolicy, ANonCriticalControlNotAllowedIsRemoved) {
  const Policy policy(config({"read-only"}, kPeople));
  Decision decision =
      policy.check(search_with_control(kPerson, "1.3.6.1.4.1.4203.666.5.12", std::nullopt, false));
  EXPECT_TRUE(decision.allowed) << decision.reason;
  EXPECT_EQ(decision.removed_controls, std::vector<std::string>{"1.3.6.1.4.1.4203.666.5.12"});
  // Allowed controls stay, and a request without controls has nothing removed.
  decision = policy.check(
      search_with_control(kPerson, "1.2.840.113556.1.4.319", std::string("\x30\x05\x02\x01\x05\x04\x00", 7)));
  EXPECT_TRUE(decision.allowed) << decision.reason;
  EXPECT_TRUE(decision.removed_controls.empty());
  // A refusal for other reasons carries nothing to remove.
  decision = policy.check(search_with_control("dc=other", "1.2.3.4", std::nullopt, false));
  expect_denied(decision, result::insufficient_access_rights, "outside the allowed subtrees");
  EXPECT_TRUE(decision.removed_controls.empty());
}

TEST(LdapPolicy, ARemovedControlIsNotJudgedByWhatItWouldDo) {
  // A non-critical assertion on userPassword, where assertions are not allowed: the directory never
  // sees it, so it cannot disclose anything, and the search goes on without it.
  const Policy policy(allowing(config({"read-only"}, kPeople, {"userPassword"}), {"paged_results"}));
  const std::string on_password = ber_value("t{ss}", tag(0xa3), "userPassword", "guess");
  const Decision decision = policy.check(
      search_with_control(kPerson, std::string(kAssertionControlOid).c_str(), on_password, false));
  EXPECT_TRUE(decision.allowed) << decision.reason;
  EXPECT_EQ(decision.removed_controls, std::vector<std::string>{std::string(kAssertionControlOid)});
  // Where assertions are allowed, the same control is refused for what it tests.
  expect_denied(
      Policy(config({"read-only"}, kPeople, {"userPassword"}))
          .check(search_with_control(kPerson, std::string(kAssertionControlOid).c_str(), on_password, false)),
      result::insufficient_access_rights, "assertion control on denied attribute");
}

TEST(LdapPolicy, ReturnedEntriesMustLieInsideTheBaseDns) {
  const Policy policy(config({"read-only"}, kPeople));
  EXPECT_TRUE(policy.has_base_dns());
  EXPECT_TRUE(policy.entry_visible("uid=alice,ou=People,dc=example,dc=com"));
  EXPECT_TRUE(policy.entry_visible("OU=people, DC=Example, DC=com"));
  EXPECT_TRUE(policy.entry_visible("")) << "the root DSE";
  EXPECT_FALSE(policy.entry_visible("uid=boss,ou=admins,dc=example,dc=com"));
  EXPECT_FALSE(policy.entry_visible("dc=example,dc=com"));
  EXPECT_FALSE(policy.entry_visible("not a DN")) << "what cannot be placed is not shown";
  // Spelled as the base's normal form below it, or otherwise: the same answer either way.
  EXPECT_TRUE(policy.entry_visible("uid=alice,ou=people,dc=example,dc=com"));
  EXPECT_TRUE(policy.entry_visible("cn=a.b-c_d@e,uid=alice,ou=people,dc=example,dc=com"));
  EXPECT_TRUE(policy.entry_visible("ou=people,dc=example,dc=com"));
  EXPECT_TRUE(policy.entry_visible("cn=a+sn=b,ou=people,dc=example,dc=com"));
  EXPECT_TRUE(policy.entry_visible("cn=a\\\\,ou=people,dc=example,dc=com")) << "an escaped backslash";
  EXPECT_FALSE(policy.entry_visible("cn=a\\\\,ou=people,dc=example,dc=com\\,dc=other"));
  EXPECT_FALSE(policy.entry_visible("cn=x\\,ou=people,dc=example,dc=com")) << "one RDN: x,ou=people in cn";
  EXPECT_FALSE(policy.entry_visible("cn=x+ou=people,dc=example,dc=com"));
  EXPECT_FALSE(policy.entry_visible(",ou=people,dc=example,dc=com"));
  EXPECT_FALSE(policy.entry_visible("=x,ou=people,dc=example,dc=com"));
  EXPECT_FALSE(policy.entry_visible("xou=people,dc=example,dc=com"));
  const Policy anywhere(config({"read-only"}));
  EXPECT_FALSE(anywhere.has_base_dns());
  EXPECT_TRUE(anywhere.entry_visible("uid=boss,ou=admins,dc=example,dc=com"));
}
