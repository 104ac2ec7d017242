#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attribute_types.hpp"
#include "ldap_codec.hpp"

using namespace gw::ldap;

TEST(LdapAttributeTypes, CanonicalFormIsTheFirstNameLowerCasedWithoutOptions) {
  EXPECT_EQ(canonical_attribute_type("userPassword"), "userpassword");
  EXPECT_EQ(canonical_attribute_type("2.5.4.35;binary"), "userpassword");
  EXPECT_EQ(canonical_attribute_type("commonName"), "cn");
  EXPECT_EQ(canonical_attribute_type("2.5.4.3"), "cn");
  EXPECT_EQ(canonical_attribute_type("RFC822MAILBOX"), "mail");
  EXPECT_EQ(canonical_attribute_type("0.9.2342.19200300.100.1.3"), "mail");
  EXPECT_EQ(canonical_attribute_type("userid;x-a;x-b"), "uid");
  EXPECT_EQ(canonical_attribute_type("1.3.6.1.1.1.1.0"), "uidnumber");
  EXPECT_EQ(canonical_attribute_type("sambaNTPassword"), "sambantpassword");
  // Unknown: lower-cased as written.
  EXPECT_EQ(canonical_attribute_type("x-Custom;binary"), "x-custom");
  EXPECT_EQ(canonical_attribute_type("1.3.6.1.4.1.99999.1"), "1.3.6.1.4.1.99999.1");
  EXPECT_EQ(canonical_attribute_type(""), "");
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
