#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "attribute_types.hpp"
#include "ldap_codec.hpp"

using namespace gw::ldap;

TEST(LdapAttributeTypes, CanonicalFormIsTheFirstNameLowerCasedWithoutOptions) {
  const std::pair<const char*, const char*> cases[] = {
      {"userPassword", "userpassword"},
      {"2.5.4.35;binary", "userpassword"},
      {"commonName", "cn"},
      {"2.5.4.3", "cn"},
      {"RFC822MAILBOX", "mail"},
      {"0.9.2342.19200300.100.1.3", "mail"},
      {"userid;x-a;x-b", "uid"},
      {"1.3.6.1.1.1.1.0", "uidnumber"},
      {"sambaNTPassword", "sambantpassword"},
      // Unknown: lower-cased as written.
      {"x-Custom;binary", "x-custom"},
      {"1.3.6.1.4.1.99999.1", "1.3.6.1.4.1.99999.1"},
      {"", ""},
  };
  for (const auto& [description, canonical] : cases) {
    EXPECT_EQ(canonical_attribute_type(description), canonical) << description;
  }
}

TEST(LdapAttributeTypes, SupertypesNearestFirst) {
  EXPECT_EQ(attribute_supertypes("cn"), std::vector<std::string>{"name"});
  EXPECT_EQ(attribute_supertypes("member"), std::vector<std::string>{"distinguishedname"});
  EXPECT_EQ(attribute_supertypes("registeredaddress"), std::vector<std::string>{"postaladdress"});
  EXPECT_TRUE(attribute_supertypes("name").empty());
  EXPECT_TRUE(attribute_supertypes("userpassword").empty());
  EXPECT_TRUE(attribute_supertypes("x-custom").empty());
}

TEST(LdapAttributeTypes, DescriptionSyntax) {
  for (const char* good : {"cn", "userPassword;binary", "2.5.4.3", "x-a-1;lang-en;x-o", "0.9"}) {
    EXPECT_TRUE(is_attribute_description(good)) << good;
  }
  for (const char* bad :
       {"", "1", "1.", ".1", "01.2", "1..2", "1cn", "-cn", "cn;", "cn;;x", "cn x", "cn_x", ";cn", "cn;a b"}) {
    EXPECT_FALSE(is_attribute_description(bad)) << bad;
  }
  EXPECT_TRUE(is_numeric_oid("1.3.6.1.4.1.99999.1"));
  EXPECT_FALSE(is_numeric_oid("cn"));
}

TEST(LdapAttributeTypes, DnsCompareEqualUnderAnyNameOfTheirTypes) {
  std::string error;
  const auto a = Dn::parse("rfc822Mailbox=a@example.com,0.9.2342.19200300.100.1.25=example", error);
  const auto b = Dn::parse("MAIL=a@example.com,dc=example", error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_EQ(a->normalized(), b->normalized());
}
