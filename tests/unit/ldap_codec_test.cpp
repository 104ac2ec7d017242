#include <gtest/gtest.h>
#include <lber.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ldap_codec.hpp"
#include "unit/ber_builder.hpp"

using namespace gw::ldap;
using namespace gw::ldap::test;

namespace {

Bytes from_hex(std::string_view hex) {
  Bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// Bytes sent by `ldapsearch -x -H ldap://127.0.0.1:PORT -b dc=example,dc=com '(uid=a*)' cn mail`
// (OpenLDAP 2.5.13), captured with a listening socket: the anonymous bind, the search, the unbind.
const Bytes kLdapsearchBind = from_hex("300c020101600702010304008000");
const Bytes kLdapsearchSearch = from_hex(
    "303f020102633a041164633d6578616d706c652c64633d636f6d0a01020a0100020100020100010100a40a040375696430038001"
    "61300a0402636e04046d61696c");
const Bytes kLdapsearchUnbind = from_hex("30050201034200");
// `ldapsearch -x -D cn=admin,dc=example,dc=com -w secret -E pr=5/noprompt -s one
//  -b ou=people,dc=example,dc=com '(&(objectClass=person)(|(cn=J*)(!(mail=*))))' '*'`
const Bytes kLdapsearchAdminBind =
    from_hex("302c0201016027020103041a636e3d61646d696e2c64633d6578616d706c652c64633d636f6d8006736563726574");
const Bytes kLdapsearchPagedSearch = from_hex(
    "308189020102635f041b6f753d70656f706c652c64633d6578616d706c652c64633d636f6d0a01010a0100020100020100010100"
    "a02ca315040b6f626a656374436c6173730406706572736f6ea113a4090402636e300380014aa20687046d61696c300304012aa0"
    "2330210416312e322e3834302e3131333535362e312e342e333139040730050201050400");

// What slapd 2.5.13 answered to `ldapsearch -x -b ou=people,dc=example,dc=com '(uid=alice)'`: the
// bind response, one entry (with userPassword), the search result done, as one stream.
const Bytes kSlapdSearchAnswers = from_hex(
    "300c02010161070a0100040004003081cd0201026481c704257569643d616c6963652c6f753d70656f706c652c64633d6578616d"
    "706c652c64633d636f6d30819d301e040b6f626a656374436c617373310f040d696e65744f7267506572736f6e300e0403756964"
    "31070405616c69636530150402636e310f040d416c696365204c696464656c6c300f0402736e310904074c696464656c6c301b04"
    "046d61696c31130411616c696365406578616d706c652e636f6d3026040c7573657250617373776f7264311604147b535348417d"
    "6e6f747265616c6c796168617368300c02010265070a010004000400");

// A search request whose filter is written by `filter`.
Bytes search_with(const std::function<void(BerElement*)>& filter, std::int32_t id = 5) {
  BerElement* element = ber_alloc_t(LBER_USE_DER);
  EXPECT_NE(ber_printf(element, "{it{seeiib", num(id), tag(0x63), "dc=example,dc=com", num(2), num(0), num(0),
                       num(0), num(0)),
            -1);
  filter(element);
  EXPECT_NE(ber_printf(element, "{s}N}N}", "cn"), -1);
  return flatten(element);
}

Bytes filter_only(const std::function<void(BerElement*)>& filter) {
  BerElement* element = ber_alloc_t(LBER_USE_DER);
  filter(element);
  return flatten(element);
}

// (&(objectClass=person)(|(cn=J*n)(!(mail=*)))(uidNumber>=1000)(gidNumber;x-opt<=2000)(sn~=smith)
//   (givenName:caseExactMatch:=Bob) with dnAttributes)
void every_filter_choice(BerElement* element) {
  ASSERT_NE(ber_printf(element, "t[t{ss}t[t{s{tsts}}t{ts}]t{ss}t{ss}t{ss}t{tststb}]", tag(0xa0), tag(0xa3),
                       "objectClass", "person", tag(0xa1), tag(0xa4), "cn", tag(0x80), "J", tag(0x82), "n",
                       tag(0xa2), tag(0x87), "mail", tag(0xa5), "uidNumber", "1000", tag(0xa6),
                       "gidNumber;x-opt", "2000", tag(0xa8), "sn", "smith", tag(0xa9), tag(0x81),
                       "caseExactMatch", tag(0x82), "givenName", tag(0x83), "Bob", tag(0x84), num(1)),
            -1);
}

const std::vector<std::string> kEveryFilterChoiceAttributes = {
    "objectClass", "cn", "mail", "uidNumber", "gidNumber;x-opt", "sn", "givenName"};

Bytes built_search() {
  BerElement* element = ber_alloc_t(LBER_USE_DER);
  EXPECT_NE(ber_printf(element, "{it{seeiib", num(7), tag(0x63), "ou=People,dc=example,dc=com", num(1),
                       num(3), num(100), num(30), num(1)),
            -1);
  every_filter_choice(element);
  const std::string paging = "\x30\x05\x02\x01\x05\x04\x00";
  EXPECT_NE(
      ber_printf(element, "{sss}N}t{{sbo}{s}}N}", "cn", "mail", "+", tag(0xa0), "1.2.840.113556.1.4.319",
                 num(1), paging.data(), len(paging.size()), "1.3.6.1.4.1.4203.1.10.1"),
      -1);
  return flatten(element);
}

Bytes built_entry(std::int32_t id = 3, bool with_controls = false) {
  BerElement* element = ber_alloc_t(LBER_USE_DER);
  EXPECT_NE(ber_printf(element, "{it{s{{s[ss]}{s[s]}{s[s]}{s[]}}N}", num(id), tag(0x64),
                       "uid=alice,ou=People,dc=example,dc=com", "cn", "Alice", "Alice Liddell",
                       "userPassword", "{SSHA}secret", "mail", "alice@example.com", "description"),
            -1);
  if (with_controls) {
    EXPECT_NE(ber_printf(element, "t{{s}}", tag(0xa0), "1.2.3.4"), -1);
  }
  EXPECT_NE(ber_printf(element, "N}"), -1);
  return flatten(element);
}

std::optional<Message> ok(const Bytes& bytes) {
  std::string error;
  auto message = decode(bytes, error);
  EXPECT_TRUE(message) << error;
  return message;
}

std::string rejected(const Bytes& bytes) {
  std::string error;
  auto message = decode(bytes, error);
  EXPECT_FALSE(message) << "decoded although malformed";
  EXPECT_FALSE(error.empty());
  return error;
}

std::string str(ByteView view) {
  return std::string(view.begin(), view.end());
}

bool inside(ByteView part, ByteView whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

#define EXPECT_REJECTED_WITH(bytes, fragment)                                           \
  do {                                                                                  \
    const std::string error_text = rejected(bytes);                                     \
    EXPECT_NE(error_text.find(fragment), std::string::npos) << "error: " << error_text; \
  } while (0)

}  // namespace

// ---- names ----------------------------------------------------------------------------------------

TEST(LdapCodecNames, OpNamesAreStable) {
  EXPECT_EQ(op_name(Op::bind_request), "bind");
  EXPECT_EQ(op_name(Op::search_request), "search");
  EXPECT_EQ(op_name(Op::modify_dn_request), "modify_dn");
  EXPECT_EQ(op_name(Op::extended_request), "extended");
  EXPECT_EQ(op_name(Op::bind_response), "bind_response");
  EXPECT_EQ(op_name(Op::search_result_entry), "search_result_entry");
  EXPECT_EQ(op_name(Op::search_result_reference), "search_result_reference");
  EXPECT_EQ(op_name(Op::intermediate_response), "intermediate_response");
  EXPECT_EQ(op_name(static_cast<Op>(0x62)), "unknown");
}

TEST(LdapCodecNames, RequestsAndTheirResponses) {
  const Op requests[] = {Op::bind_request,    Op::unbind_request,  Op::search_request,    Op::modify_request,
                         Op::add_request,     Op::delete_request,  Op::modify_dn_request, Op::compare_request,
                         Op::abandon_request, Op::extended_request};
  for (Op op : requests) EXPECT_TRUE(is_request(op)) << op_name(op);
  EXPECT_FALSE(is_request(Op::search_result_entry));
  EXPECT_FALSE(is_request(Op::extended_response));
  EXPECT_FALSE(is_request(static_cast<Op>(0x62)));

  EXPECT_EQ(response_to(Op::bind_request), Op::bind_response);
  EXPECT_EQ(response_to(Op::search_request), Op::search_result_done);
  EXPECT_EQ(response_to(Op::modify_request), Op::modify_response);
  EXPECT_EQ(response_to(Op::add_request), Op::add_response);
  EXPECT_EQ(response_to(Op::delete_request), Op::delete_response);
  EXPECT_EQ(response_to(Op::modify_dn_request), Op::modify_dn_response);
  EXPECT_EQ(response_to(Op::compare_request), Op::compare_response);
  EXPECT_EQ(response_to(Op::extended_request), Op::extended_response);
  EXPECT_EQ(response_to(Op::unbind_request), std::nullopt);
  EXPECT_EQ(response_to(Op::abandon_request), std::nullopt);
  EXPECT_EQ(response_to(Op::bind_response), std::nullopt);
}

// ---- framing --------------------------------------------------------------------------------------

TEST(LdapFrame, EmptyAndOneOctetNeedMore) {
  EXPECT_EQ(frame({}, 1024).status, Frame::Status::need_more);
  const Bytes one = {0x30};
  EXPECT_EQ(frame(one, 1024).status, Frame::Status::need_more);
}

TEST(LdapFrame, ShortFormCompleteWithFollowingBytes) {
  Bytes two = kLdapsearchBind;
  two.insert(two.end(), kLdapsearchUnbind.begin(), kLdapsearchUnbind.end());
  const Frame first = frame(two, 1024);
  ASSERT_EQ(first.status, Frame::Status::complete);
  EXPECT_EQ(first.size, kLdapsearchBind.size());
  const Frame second = frame(ByteView(two).subspan(first.size), 1024);
  ASSERT_EQ(second.status, Frame::Status::complete);
  EXPECT_EQ(second.size, kLdapsearchUnbind.size());
}

TEST(LdapFrame, LongFormLengthsOfOneToFourOctets) {
  const std::vector<Bytes> headers = {{0x30, 0x81, 0x05},
                                      {0x30, 0x82, 0x00, 0x05},
                                      {0x30, 0x83, 0x00, 0x00, 0x05},
                                      {0x30, 0x84, 0, 0, 0, 0x05}};
  for (const Bytes& header : headers) {
    for (std::size_t cut = 1; cut < header.size(); ++cut) {
      EXPECT_EQ(frame(ByteView(header).first(cut), 1024).status, Frame::Status::need_more);
    }
    Bytes message = header;
    EXPECT_EQ(frame(message, 1024).status, Frame::Status::need_more);
    message.insert(message.end(), {0x02, 0x01, 0x01, 0x42, 0x00});
    const Frame complete = frame(message, 1024);
    ASSERT_EQ(complete.status, Frame::Status::complete);
    EXPECT_EQ(complete.size, header.size() + 5);
  }
}

TEST(LdapFrame, IndefiniteAndOverlongLengthsAreMalformed) {
  const Bytes indefinite = {0x30, 0x80, 0x02, 0x01, 0x01};
  const Frame a = frame(indefinite, 1024);
  EXPECT_EQ(a.status, Frame::Status::malformed);
  EXPECT_EQ(a.error, "indefinite length");
  for (std::uint8_t octets : {0x85, 0x88, 0xff}) {
    const Bytes header = {0x30, octets};
    const Frame f = frame(header, 1024);
    EXPECT_EQ(f.status, Frame::Status::malformed) << int(octets);
    EXPECT_NE(f.error.find("octets"), std::string::npos) << f.error;
  }
}

TEST(LdapFrame, FirstOctetMustBeSequence) {
  for (std::uint8_t first : {0x31, 0x00, 0x60, 0xff, 0x10}) {
    const Bytes bytes = {first, 0x03, 0x02, 0x01, 0x01};
    const Frame f = frame(bytes, 1024);
    EXPECT_EQ(f.status, Frame::Status::malformed);
    EXPECT_NE(f.error.find("SEQUENCE"), std::string::npos) << f.error;
  }
}

TEST(LdapFrame, SizeCapIsCheckedAsSoonAsTheHeaderIsComplete) {
  // 9000000 = 0x895440: declared, nothing of the contents arrived yet.
  const Bytes header = {0x30, 0x83, 0x89, 0x54, 0x40};
  const Frame f = frame(header, 1048576);
  ASSERT_EQ(f.status, Frame::Status::malformed);
  EXPECT_EQ(f.error, "message of 9000005 bytes exceeds 1048576");
  const Bytes huge = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(frame(huge, 1048576).status, Frame::Status::malformed);
  // A short-form message above a tiny cap.
  EXPECT_EQ(frame(kLdapsearchBind, kLdapsearchBind.size() - 1).status, Frame::Status::malformed);
  EXPECT_EQ(frame(kLdapsearchBind, kLdapsearchBind.size()).status, Frame::Status::complete);
}

TEST(LdapFrame, EveryPrefixOfAValidMessageNeedsMore) {
  for (const Bytes& message : {kLdapsearchSearch, kLdapsearchPagedSearch, built_search()}) {
    for (std::size_t cut = 0; cut < message.size(); ++cut) {
      EXPECT_EQ(frame(ByteView(message).first(cut), 1 << 20).status, Frame::Status::need_more) << cut;
    }
    EXPECT_EQ(frame(message, 1 << 20).size, message.size());
  }
}

// ---- decoding what real clients send --------------------------------------------------------------

TEST(LdapDecode, LdapsearchAnonymousBind) {
  auto m = ok(kLdapsearchBind);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 1);
  EXPECT_EQ(m->op, Op::bind_request);
  EXPECT_EQ(m->version, 3);
  EXPECT_EQ(m->dn, "");
  EXPECT_EQ(m->auth, AuthKind::simple);
  EXPECT_EQ(m->password, "");
  EXPECT_FALSE(m->has_controls);
  EXPECT_EQ(m->raw.data(), kLdapsearchBind.data());
  EXPECT_EQ(m->raw.size(), kLdapsearchBind.size());
}

TEST(LdapDecode, LdapsearchSimpleBind) {
  auto m = ok(kLdapsearchAdminBind);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->dn, "cn=admin,dc=example,dc=com");
  EXPECT_EQ(m->password, "secret");
  EXPECT_EQ(m->auth, AuthKind::simple);
}

TEST(LdapDecode, LdapsearchSearch) {
  auto m = ok(kLdapsearchSearch);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 2);
  EXPECT_EQ(m->op, Op::search_request);
  EXPECT_EQ(m->dn, "dc=example,dc=com");
  EXPECT_EQ(m->scope, Scope::subtree);
  EXPECT_EQ(m->deref_aliases, 0);
  EXPECT_EQ(m->size_limit, 0);
  EXPECT_EQ(m->time_limit, 0);
  EXPECT_FALSE(m->types_only);
  EXPECT_EQ(m->filter_attributes, std::vector<std::string>{"uid"});
  EXPECT_EQ(m->attributes, (std::vector<std::string>{"cn", "mail"}));
  // (uid=a*) as sent: a4 0a 04 03 'uid' 30 03 80 01 'a'
  EXPECT_EQ(Bytes(m->filter.begin(), m->filter.end()), from_hex("a40a04037569643003800161"));
  EXPECT_TRUE(inside(m->filter, m->raw));
  EXPECT_FALSE(m->has_controls);
}

TEST(LdapDecode, LdapsearchUnbind) {
  auto m = ok(kLdapsearchUnbind);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 3);
  EXPECT_EQ(m->op, Op::unbind_request);
}

TEST(LdapDecode, LdapsearchPagedSearchWithNestedFilterAndControls) {
  auto m = ok(kLdapsearchPagedSearch);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->dn, "ou=people,dc=example,dc=com");
  EXPECT_EQ(m->scope, Scope::one_level);
  EXPECT_EQ(m->filter_attributes, (std::vector<std::string>{"objectClass", "cn", "mail"}));
  EXPECT_EQ(m->attributes, std::vector<std::string>{"*"});
  EXPECT_TRUE(m->has_controls);
  EXPECT_EQ(m->filter.size(), 0x2eU);
  EXPECT_EQ(m->filter[0], 0xa0);
  EXPECT_TRUE(inside(m->filter, m->raw));
}

TEST(LdapDecode, SlapdAnswerStreamFramesDecodesAndStrips) {
  ByteView rest(kSlapdSearchAnswers);
  std::vector<Op> ops;
  while (!rest.empty()) {
    const Frame f = frame(rest, 1 << 20);
    ASSERT_EQ(f.status, Frame::Status::complete);
    const ByteView one = rest.first(f.size);
    auto m = ok(Bytes(one.begin(), one.end()));
    ASSERT_TRUE(m);
    ops.push_back(m->op);
    rest = rest.subspan(f.size);
  }
  EXPECT_EQ(ops, (std::vector<Op>{Op::bind_response, Op::search_result_entry, Op::search_result_done}));

  const ByteView entry_bytes = ByteView(kSlapdSearchAnswers).subspan(14, 0xcd + 3);
  std::string error;
  auto entry = decode(entry_bytes, error);
  ASSERT_TRUE(entry) << error;
  EXPECT_EQ(entry->id, 2);
  EXPECT_EQ(entry->dn, "uid=alice,ou=people,dc=example,dc=com");
  EXPECT_EQ(entry->entry_attributes,
            (std::vector<std::string>{"objectClass", "uid", "cn", "sn", "mail", "userPassword"}));
  EXPECT_EQ(encode_entry_without(*entry, nullptr), Bytes(entry_bytes.begin(), entry_bytes.end()));
  const Bytes stripped = encode_entry_without(*entry, [](std::string_view d) { return d == "userPassword"; });
  auto back = ok(stripped);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->entry_attributes, (std::vector<std::string>{"objectClass", "uid", "cn", "sn", "mail"}));
  EXPECT_EQ(str(back->raw).find("notreallyahash"), std::string::npos);
  // The 40-byte userPassword attribute is gone, and the attribute list (157 -> 117 bytes) now has a
  // one-octet length.
  EXPECT_EQ(stripped.size(), entry_bytes.size() - 0x28 - 1);
}

// ---- decoding messages built with liblber ---------------------------------------------------------

TEST(LdapDecode, SearchWithEveryFilterChoiceAndControls) {
  const Bytes bytes = built_search();
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 7);
  EXPECT_EQ(m->dn, "ou=People,dc=example,dc=com");
  EXPECT_EQ(m->scope, Scope::one_level);
  EXPECT_EQ(m->deref_aliases, 3);
  EXPECT_EQ(m->size_limit, 100);
  EXPECT_EQ(m->time_limit, 30);
  EXPECT_TRUE(m->types_only);
  EXPECT_EQ(m->filter_attributes, kEveryFilterChoiceAttributes);
  EXPECT_FALSE(m->filter_matches_any_attribute);  // its extensible match names givenName
  EXPECT_EQ(m->attributes, (std::vector<std::string>{"cn", "mail", "+"}));
  EXPECT_TRUE(m->has_controls);
  EXPECT_EQ(Bytes(m->filter.begin(), m->filter.end()), filter_only(every_filter_choice));
  EXPECT_TRUE(inside(m->filter, m->raw));
}

TEST(LdapDecode, ChildrenScopeAndLargeLimits) {
  const Bytes bytes = ber("{it{seeiibt{ss}{}}}", num(0x7fffffff), tag(0x63), "", num(3), num(2),
                          num(0x7fffffff), num(0x10000), num(0), tag(0xa3), "cn", "x");
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 0x7fffffff);
  EXPECT_EQ(m->scope, Scope::children);
  EXPECT_EQ(m->size_limit, 0x7fffffff);
  EXPECT_EQ(m->time_limit, 0x10000);
  EXPECT_TRUE(m->attributes.empty());
}

TEST(LdapDecode, AbsoluteTrueAndFalseFilters) {
  for (unsigned choice : {0xa0u, 0xa1u}) {
    const Bytes bytes = search_with([&](BerElement* b) { ASSERT_NE(ber_printf(b, "t[]", tag(choice)), -1); });
    auto m = ok(bytes);
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->filter_attributes.empty());
    EXPECT_EQ(m->filter.size(), 2U);
  }
}

TEST(LdapDecode, ExtensibleMatchWithOnlyARuleNamesNoAttribute) {
  const Bytes bytes = search_with([](BerElement* b) {
    ASSERT_NE(ber_printf(b, "t{tsts}", tag(0xa9), tag(0x81), "2.5.13.5", tag(0x83), "v"), -1);
  });
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->filter_attributes.empty());
  EXPECT_TRUE(m->filter_matches_any_attribute);
}

TEST(LdapDecode, SaslBindWithAndWithoutCredentials) {
  auto with = ok(ber("{it{ist{ss}}}", num(4), tag(0x60), num(3), "", tag(0xa3), "DIGEST-MD5", "response"));
  ASSERT_TRUE(with);
  EXPECT_EQ(with->auth, AuthKind::sasl);
  EXPECT_EQ(with->sasl_mechanism, "DIGEST-MD5");
  EXPECT_TRUE(with->password.empty());
  auto without = ok(ber("{it{ist{s}}}", num(4), tag(0x60), num(3), "", tag(0xa3), "EXTERNAL"));
  ASSERT_TRUE(without);
  EXPECT_EQ(without->sasl_mechanism, "EXTERNAL");
}

TEST(LdapDecode, BindResponseWithServerSaslCredentials) {
  auto m = ok(ber("{it{essto}}", num(1), tag(0x61), num(14), "", "continue", tag(0x87), "chal", len(4)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::bind_response);
  EXPECT_EQ(m->result_code, 14);
  EXPECT_EQ(m->diagnostic, "continue");
}

TEST(LdapDecode, SearchResultEntryAttributes) {
  const Bytes bytes = built_entry(3, true);
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::search_result_entry);
  EXPECT_EQ(m->dn, "uid=alice,ou=People,dc=example,dc=com");
  EXPECT_EQ(m->entry_attributes, (std::vector<std::string>{"cn", "userPassword", "mail", "description"}));
  EXPECT_TRUE(m->has_controls);
}

TEST(LdapDecode, SearchResultDoneWithReferral) {
  auto m = ok(ber("{it{esst{ss}}}", num(9), tag(0x65), num(10), "dc=example,dc=com", "see elsewhere",
                  tag(0xa3), "ldap://a.example/", "ldap://b.example/"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::search_result_done);
  EXPECT_EQ(m->result_code, 10);
  EXPECT_EQ(m->dn, "dc=example,dc=com");
  EXPECT_EQ(m->diagnostic, "see elsewhere");
}

TEST(LdapDecode, SearchResultReference) {
  auto m = ok(ber("{it{ss}}", num(9), tag(0x73), "ldap://a.example/dc=a", "ldap://b.example/dc=b"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::search_result_reference);
  EXPECT_REJECTED_WITH(ber("{it{}}", num(9), tag(0x73)), "no URI");
}

TEST(LdapDecode, ModifyRequestWithEveryOperation) {
  auto m = ok(ber("{it{s{{e{s[s]}}{e{s[]}}{e{s[ss]}}{e{s[s]}}}}t{{sb}}}", num(11), tag(0x66),
                  "uid=alice,dc=example,dc=com", num(0), "mail", "a@example.com", num(1), "description",
                  num(2), "cn", "A", "B", num(3), "uidNumber", "1", tag(0xa0), "1.3.6.1.1.13.1", num(0)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::modify_request);
  EXPECT_EQ(m->dn, "uid=alice,dc=example,dc=com");
  EXPECT_EQ(m->entry_attributes, (std::vector<std::string>{"mail", "description", "cn", "uidNumber"}));
  EXPECT_TRUE(m->has_controls);
}

TEST(LdapDecode, AddRequest) {
  auto m = ok(ber("{it{s{{s[ss]}{s[s]}}}}", num(12), tag(0x68), "uid=bob,dc=example,dc=com", "objectClass",
                  "top", "person", "cn", "Bob"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::add_request);
  EXPECT_EQ(m->dn, "uid=bob,dc=example,dc=com");
  EXPECT_EQ(m->entry_attributes, (std::vector<std::string>{"objectClass", "cn"}));
}

TEST(LdapDecode, DeleteRequestIsAPrimitiveDn) {
  auto m = ok(ber("{its}", num(13), tag(0x4a), "uid=bob,dc=example,dc=com"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::delete_request);
  EXPECT_EQ(m->dn, "uid=bob,dc=example,dc=com");
}

TEST(LdapDecode, ModifyDnWithAndWithoutNewSuperior) {
  auto moved = ok(ber("{it{ssbts}}", num(14), tag(0x6c), "uid=bob,ou=a,dc=example,dc=com", "uid=robert",
                      num(1), tag(0x80), "ou=b,dc=example,dc=com"));
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->op, Op::modify_dn_request);
  EXPECT_EQ(moved->dn, "uid=bob,ou=a,dc=example,dc=com");
  EXPECT_EQ(moved->new_rdn, "uid=robert");
  EXPECT_TRUE(moved->delete_old_rdn);
  EXPECT_EQ(moved->new_superior, std::optional<std::string>("ou=b,dc=example,dc=com"));
  auto renamed = ok(ber("{it{ssb}}", num(14), tag(0x6c), "uid=bob,dc=example,dc=com", "uid=rob", num(0)));
  ASSERT_TRUE(renamed);
  EXPECT_FALSE(renamed->delete_old_rdn);
  EXPECT_FALSE(renamed->new_superior);
}

TEST(LdapDecode, CompareRequest) {
  auto m =
      ok(ber("{it{s{ss}}}", num(15), tag(0x6e), "uid=bob,dc=example,dc=com", "userPassword;binary", "x"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::compare_request);
  EXPECT_EQ(m->entry_attributes, std::vector<std::string>{"userPassword;binary"});
}

TEST(LdapDecode, AbandonRequest) {
  auto m = ok(ber("{iti}", num(16), tag(0x50), num(7)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->op, Op::abandon_request);
  EXPECT_EQ(m->abandoned_id, 7);
  EXPECT_REJECTED_WITH(ber("{iti}", num(16), tag(0x50), num(-1)), "negative");
}

TEST(LdapDecode, ExtendedRequestWithAndWithoutValue) {
  auto starttls = ok(ber("{it{ts}}", num(1), tag(0x77), tag(0x80), kStartTlsOid.data()));
  ASSERT_TRUE(starttls);
  EXPECT_EQ(starttls->op, Op::extended_request);
  EXPECT_EQ(starttls->oid, kStartTlsOid);
  auto passwd = ok(ber("{it{tsto}}", num(2), tag(0x77), tag(0x80), kPasswordModifyOid.data(), tag(0x81),
                       "\x30\x00", len(2)));
  ASSERT_TRUE(passwd);
  EXPECT_EQ(passwd->oid, kPasswordModifyOid);
  EXPECT_REJECTED_WITH(ber("{it{ts}}", num(1), tag(0x77), tag(0x80), ""), "empty requestName");
}

// A password modify request (RFC 3062) whose value is `value` (a PasswdModifyRequestValue).
Bytes password_modify(const Bytes& value) {
  return ber("{it{tsto}}", num(4), tag(0x77), tag(0x80), kPasswordModifyOid.data(), tag(0x81),
             reinterpret_cast<const char*>(value.data()), len(value.size()));
}

TEST(LdapDecode, PasswordModifyNamesTheIdentityWhosePasswordChanges) {
  auto other = ok(password_modify(
      ber("{tststs}", tag(0x80), "uid=bob,ou=People,dc=example,dc=com", tag(0x81), "old", tag(0x82), "new")));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->password_identity, "uid=bob,ou=People,dc=example,dc=com");
  // Only new and old passwords: the bound user's own.
  auto own = ok(password_modify(ber("{tsts}", tag(0x81), "old", tag(0x82), "new")));
  ASSERT_TRUE(own);
  EXPECT_FALSE(own->password_identity);
  auto empty = ok(password_modify(ber("{}")));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->password_identity);
  // Not a SEQUENCE, fields out of order or unknown, trailing bytes: malformed.
  EXPECT_REJECTED_WITH(password_modify(ber("ts", tag(0x80), "uid=bob")), "PasswdModifyRequestValue");
  EXPECT_REJECTED_WITH(password_modify(ber("{tsts}", tag(0x82), "new", tag(0x80), "uid=bob")),
                       "unexpected element");
  EXPECT_REJECTED_WITH(password_modify(ber("{ts}", tag(0x83), "x")), "unexpected element");
  Bytes trailing = ber("{ts}", tag(0x80), "uid=bob");
  trailing.insert(trailing.end(), {0x04, 0x00});  // an empty OCTET STRING after the SEQUENCE
  EXPECT_REJECTED_WITH(password_modify(trailing), "unexpected element");
  trailing.pop_back();  // and a half one
  EXPECT_REJECTED_WITH(password_modify(trailing), "password modify request: bad or truncated");
  Bytes truncated = ber("{ts}", tag(0x80), "uid=bob");
  truncated.pop_back();
  EXPECT_REJECTED_WITH(password_modify(truncated), "PasswdModifyRequestValue");
}

TEST(LdapDecode, ExtendedAndIntermediateResponses) {
  auto ext = ok(ber("{it{essts}}", num(0), tag(0x78), num(52), "", "shutting down", tag(0x8a),
                    kNoticeOfDisconnectionOid.data()));
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->id, 0);  // unsolicited notifications use message id 0
  EXPECT_EQ(ext->result_code, 52);
  EXPECT_EQ(ext->oid, kNoticeOfDisconnectionOid);
  auto inter =
      ok(ber("{it{tsto}}", num(3), tag(0x79), tag(0x80), "1.3.6.1.4.1.4203.1.9.1.4", tag(0x81), "v", len(1)));
  ASSERT_TRUE(inter);
  EXPECT_EQ(inter->op, Op::intermediate_response);
  EXPECT_EQ(inter->oid, "1.3.6.1.4.1.4203.1.9.1.4");
  auto bare = ok(ber("{it{}}", num(3), tag(0x79)));
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->oid.empty());
}

TEST(LdapDecode, EveryPlainResultResponse) {
  for (Op op : {Op::search_result_done, Op::modify_response, Op::add_response, Op::delete_response,
                Op::modify_dn_response, Op::compare_response}) {
    auto m = ok(ber("{it{ess}}", num(21), tag(static_cast<unsigned>(op)), num(32), "dc=example", "no such"));
    ASSERT_TRUE(m) << op_name(op);
    EXPECT_EQ(m->op, op);
    EXPECT_EQ(m->result_code, 32);
    EXPECT_EQ(m->dn, "dc=example");
    EXPECT_EQ(m->diagnostic, "no such");
  }
}

// ---- malformed input ------------------------------------------------------------------------------

TEST(LdapMalformed, EveryTruncationIsRejected) {
  for (const Bytes& message :
       {kLdapsearchBind, kLdapsearchSearch, kLdapsearchPagedSearch, built_search(), built_entry(3, true)}) {
    ASSERT_TRUE(ok(message));
    for (std::size_t cut = 0; cut < message.size(); ++cut) {
      const Bytes prefix(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(cut));
      std::string error;
      EXPECT_FALSE(decode(prefix, error)) << cut;
      EXPECT_FALSE(error.empty());
      EXPECT_NE(frame(prefix, 1 << 20).status, Frame::Status::complete);
    }
  }
}

TEST(LdapMalformed, TrailingBytesAfterTheMessage) {
  Bytes bytes = kLdapsearchSearch;
  bytes.push_back(0x00);
  EXPECT_REJECTED_WITH(bytes, "trailing");
  Bytes two = kLdapsearchBind;
  two.insert(two.end(), kLdapsearchUnbind.begin(), kLdapsearchUnbind.end());
  EXPECT_REJECTED_WITH(two, "trailing");
}

TEST(LdapMalformed, EmptyInput) {
  EXPECT_REJECTED_WITH(Bytes{}, "empty");
}

TEST(LdapMalformed, OuterTagMustBeSequence) {
  Bytes bytes = kLdapsearchUnbind;
  bytes[0] = 0x31;
  EXPECT_REJECTED_WITH(bytes, "expected LDAPMessage SEQUENCE");
}

TEST(LdapMalformed, MessageIdZeroInARequest) {
  EXPECT_REJECTED_WITH(ber("{itn}", num(0), tag(0x42)), "message id 0");
  const Bytes bytes =
      search_with([](BerElement* b) { ASSERT_NE(ber_printf(b, "ts", tag(0x87), "cn"), -1); }, 0);
  EXPECT_REJECTED_WITH(bytes, "message id 0 in a search request");
}

TEST(LdapMalformed, NegativeAndOversizedMessageIds) {
  EXPECT_REJECTED_WITH(from_hex("30050201ff4200"), "negative message id -1");
  // 2^31 needs five octets: beyond an int32.
  EXPECT_REJECTED_WITH(from_hex("3009020500800000004200"), "bad length of 5");
  // A zero-length INTEGER.
  EXPECT_REJECTED_WITH(from_hex("300402004200"), "bad length of 0");
}

TEST(LdapMalformed, SearchEnumerationsAndLimits) {
  auto search = [](int scope, int deref, int size, int time) {
    return ber("{it{seeiibts{}}}", num(2), tag(0x63), "dc=x", num(scope), num(deref), num(size), num(time),
               num(0), tag(0x87), "cn");
  };
  ASSERT_TRUE(ok(search(0, 0, 0, 0)));
  EXPECT_REJECTED_WITH(search(7, 0, 0, 0), "search request: bad scope 7");
  EXPECT_REJECTED_WITH(search(-1, 0, 0, 0), "bad scope -1");
  EXPECT_REJECTED_WITH(search(0, 4, 0, 0), "bad derefAliases 4");
  EXPECT_REJECTED_WITH(search(0, 0, -1, 0), "negative sizeLimit -1");
  EXPECT_REJECTED_WITH(search(0, 0, 0, -5), "negative timeLimit -5");
}

TEST(LdapMalformed, WrongTagsInsideOperations) {
  // scope sent as INTEGER instead of ENUMERATED
  EXPECT_REJECTED_WITH(ber("{it{siiiibts{}}}", num(2), tag(0x63), "dc=x", num(0), num(0), num(0), num(0),
                           num(0), tag(0x87), "cn"),
                       "expected scope");
  // baseObject as a constructed element
  EXPECT_REJECTED_WITH(
      ber("{it{{}eeiibts{}}}", num(2), tag(0x63), num(0), num(0), num(0), num(0), num(0), tag(0x87), "cn"),
      "expected baseObject");
  // attributes as a SET
  EXPECT_REJECTED_WITH(ber("{it{seeiibts[]}}", num(2), tag(0x63), "dc=x", num(0), num(0), num(0), num(0),
                           num(0), tag(0x87), "cn"),
                       "expected attributes");
  // message id as an OCTET STRING
  EXPECT_REJECTED_WITH(ber("{stn}", "1", tag(0x42)), "expected messageID");
}

TEST(LdapMalformed, UnknownProtocolOps) {
  for (unsigned op : {0x62u, 0x70u, 0x71u, 0x7au, 0x04u, 0x30u}) {
    EXPECT_REJECTED_WITH(ber("{it{}}", num(1), tag(op)), "unknown protocolOp");
  }
}

TEST(LdapMalformed, MissingAndExtraElements) {
  // search without its attribute list
  EXPECT_REJECTED_WITH(ber("{it{seeiibts}}", num(2), tag(0x63), "dc=x", num(0), num(0), num(0), num(0),
                           num(0), tag(0x87), "cn"),
                       "missing attributes");
  // search with an element after the attribute list
  EXPECT_REJECTED_WITH(ber("{it{seeiibts{}s}}", num(2), tag(0x63), "dc=x", num(0), num(0), num(0), num(0),
                           num(0), tag(0x87), "cn", "extra"),
                       "unexpected element");
  // compare with two assertion values
  EXPECT_REJECTED_WITH(ber("{it{s{sss}}}", num(15), tag(0x6e), "dc=x", "cn", "a", "b"), "unexpected element");
  // an element after the controls
  EXPECT_REJECTED_WITH(ber("{itnt{{s}}s}", num(3), tag(0x42), tag(0xa0), "1.2.3", "x"), "after the controls");
  // bind without authentication
  EXPECT_REJECTED_WITH(ber("{it{is}}", num(1), tag(0x60), num(3), ""), "missing authentication");
  // modify_dn without deleteoldrdn
  EXPECT_REJECTED_WITH(ber("{it{ss}}", num(1), tag(0x6c), "cn=a", "cn=b"), "missing deleteoldrdn");
  // LDAPResult without diagnosticMessage
  EXPECT_REJECTED_WITH(ber("{it{es}}", num(1), tag(0x65), num(0), ""), "missing diagnosticMessage");
}

TEST(LdapMalformed, BadLengthsInside) {
  // The messageID claims 5 octets, more than the whole message holds.
  EXPECT_REJECTED_WITH(from_hex("30050205034200"), "bad or truncated messageID");
  // The messageID says 2 octets, the message ends after 1.
  EXPECT_REJECTED_WITH(from_hex("3003020201"), "bad or truncated messageID");
  // A DN declaring 4 GiB inside a small message: rejected without allocating.
  EXPECT_REJECTED_WITH(from_hex("300c0201024a84ffffffff616263"), "bad or truncated protocolOp");
  // A modify whose DN overruns the modify SEQUENCE, though not the message.
  EXPECT_REJECTED_WITH(from_hex("300a02010266030403616263"),
                       "modify request: object overruns its enclosing element");
  // Indefinite length inside.
  EXPECT_REJECTED_WITH(from_hex("300702010260800000"), "bad or truncated protocolOp");
  // Nine length octets.
  EXPECT_REJECTED_WITH(from_hex("300f0201024a8900000000000000000161"), "bad or truncated protocolOp");
}

TEST(LdapMalformed, BooleansNullsAndIntegersMustHaveTheirSizes) {
  // typesOnly of two octets
  EXPECT_REJECTED_WITH(ber("{it{seeiitots{}}}", num(2), tag(0x63), "dc=x", num(0), num(0), num(0), num(0),
                           tag(0x01), "\x00\x00", len(2), tag(0x87), "cn"),
                       "typesOnly is not a one-octet BOOLEAN");
  // unbind NULL with contents
  EXPECT_REJECTED_WITH(from_hex("3006020101420100"), "not an empty NULL");
  EXPECT_REJECTED_WITH(ber("{it{ssti}}", num(1), tag(0x6c), "cn=a", "cn=b", tag(0x01), num(256)),
                       "not a one-octet BOOLEAN");
  // version as a six-octet INTEGER
  EXPECT_REJECTED_WITH(from_hex("3011020101600c020600000000000304008000"), "bad length of 6");
}

TEST(LdapMalformed, BindVersionsAndAuthenticationChoices) {
  EXPECT_REJECTED_WITH(ber("{it{isto}}", num(1), tag(0x60), num(0), "", tag(0x80), "", len(0)),
                       "bad version 0");
  EXPECT_REJECTED_WITH(ber("{it{isto}}", num(1), tag(0x60), num(128), "", tag(0x80), "", len(0)),
                       "bad version 128");
  ASSERT_TRUE(ok(ber("{it{isto}}", num(1), tag(0x60), num(2), "", tag(0x80), "", len(0))));
  EXPECT_REJECTED_WITH(ber("{it{isto}}", num(1), tag(0x60), num(3), "", tag(0x81), "krb", len(3)),
                       "unsupported authentication choice (tag 0x81)");
  EXPECT_REJECTED_WITH(ber("{it{ist{}}}", num(1), tag(0x60), num(3), "", tag(0xa3)),
                       "missing SASL mechanism");
}

TEST(LdapMalformed, ControlsMustBeWellFormed) {
  EXPECT_REJECTED_WITH(ber("{itnt{{}}}", num(3), tag(0x42), tag(0xa0)), "missing controlType");
  EXPECT_REJECTED_WITH(ber("{itnt{{s}}}", num(3), tag(0x42), tag(0xa0), ""), "empty controlType");
  EXPECT_REJECTED_WITH(ber("{itnt{s}}", num(3), tag(0x42), tag(0xa0), "1.2.3"), "expected control");
  EXPECT_REJECTED_WITH(ber("{itnt{{sss}}}", num(3), tag(0x42), tag(0xa0), "1.2.3", "a", "b"),
                       "unexpected element");
  auto critical = ok(ber("{itnt{{sbs}}}", num(3), tag(0x42), tag(0xa0), "1.2.3", num(1), "value"));
  ASSERT_TRUE(critical);
  EXPECT_TRUE(critical->has_controls);
  EXPECT_EQ(critical->controls, (std::vector<Control>{{"1.2.3", true}}));
  auto explicitly_not = ok(ber("{itnt{{sb}}}", num(3), tag(0x42), tag(0xa0), "1.2.3", num(0)));
  ASSERT_TRUE(explicitly_not);
  EXPECT_EQ(explicitly_not->controls, (std::vector<Control>{{"1.2.3", false}}));
  auto empty = ok(ber("{itnt{}}", num(3), tag(0x42), tag(0xa0)));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->has_controls);
}

TEST(LdapMalformed, FiltersNestAtMost64Deep) {
  auto nots = [](int depth) {
    return search_with([depth](BerElement* b) {
      for (int i = 0; i < depth; ++i) ASSERT_NE(ber_printf(b, "t{", tag(0xa2)), -1);
      ASSERT_NE(ber_printf(b, "t{ss}", tag(0xa3), "cn", "x"), -1);
      for (int i = 0; i < depth; ++i) ASSERT_NE(ber_printf(b, "}"), -1);
    });
  };
  auto deepest_ok = ok(nots(63));  // 63 nots around an equality: 64 levels
  ASSERT_TRUE(deepest_ok);
  EXPECT_EQ(deepest_ok->filter_attributes, std::vector<std::string>{"cn"});
  EXPECT_REJECTED_WITH(nots(64), "filter nested more than 64 levels deep");
  EXPECT_REJECTED_WITH(nots(5000), "filter nested more than 64 levels deep");
  // and/or nesting counts the same way
  const Bytes ands = search_with([](BerElement* b) {
    for (int i = 0; i < 100; ++i) ASSERT_NE(ber_printf(b, "t[", tag(i % 2 ? 0xa0 : 0xa1)), -1);
    for (int i = 0; i < 100; ++i) ASSERT_NE(ber_printf(b, "]"), -1);
  });
  EXPECT_REJECTED_WITH(ands, "nested more than 64");
}

TEST(LdapMalformed, BadFilters) {
  auto with = [](const char* format, auto... args) {
    return search_with([&](BerElement* b) { ASSERT_NE(ber_printf(b, format, args...), -1); });
  };
  EXPECT_REJECTED_WITH(with("ts", tag(0x80), "x"), "unknown filter choice (tag 0x80)");
  EXPECT_REJECTED_WITH(with("t{ss}", tag(0xaa), "cn", "x"), "unknown filter choice (tag 0xaa)");
  EXPECT_REJECTED_WITH(with("t{ss}", tag(0xa7), "cn", "x"),
                       "unknown filter choice (tag 0xa7)");  // present is primitive
  EXPECT_REJECTED_WITH(with("ts", tag(0x87), ""), "empty present filter attribute description");
  EXPECT_REJECTED_WITH(with("t{ss}", tag(0xa3), "", "x"), "empty filter attribute description");
  EXPECT_REJECTED_WITH(with("t{s}", tag(0xa3), "cn"), "missing assertion value");
  EXPECT_REJECTED_WITH(with("t{sss}", tag(0xa5), "cn", "x", "y"), "unexpected element");
  EXPECT_REJECTED_WITH(with("t{}", tag(0xa2)), "missing filter");
  EXPECT_REJECTED_WITH(with("t{tsts}", tag(0xa2), tag(0x87), "a", tag(0x87), "b"),
                       "after the filter of a not");
  EXPECT_REJECTED_WITH(with("t{s{}}", tag(0xa4), "cn"), "without substrings");
  EXPECT_REJECTED_WITH(with("t{s{tsts}}", tag(0xa4), "cn", tag(0x81), "a", tag(0x80), "b"),
                       "initial substring");
  EXPECT_REJECTED_WITH(with("t{s{tsts}}", tag(0xa4), "cn", tag(0x82), "a", tag(0x81), "b"),
                       "after the final");
  EXPECT_REJECTED_WITH(with("t{s{ts}}", tag(0xa4), "cn", tag(0x83), "a"), "bad substring choice");
  EXPECT_REJECTED_WITH(with("t{ts}", tag(0xa9), tag(0x83), "v"), "without matching rule or type");
  EXPECT_REJECTED_WITH(with("t{ts}", tag(0xa9), tag(0x82), "cn"), "missing extensible match value");
  EXPECT_REJECTED_WITH(with("t[tst{ss}s]", tag(0xa0), tag(0x87), "a", tag(0xa3), "b", "c", "junk"),
                       "unknown filter choice (tag 0x04)");
}

TEST(LdapMalformed, BadEntriesAndChanges) {
  EXPECT_REJECTED_WITH(ber("{it{s{{s[]}}}}", num(12), tag(0x68), "cn=a", "cn"),
                       "attribute 'cn' without values");
  EXPECT_REJECTED_WITH(ber("{it{s{{e{s[s]}}}}}", num(11), tag(0x66), "cn=a", num(4), "cn", "x"),
                       "bad modify operation 4");
  EXPECT_REJECTED_WITH(ber("{it{s{{s{s}}}}}", num(3), tag(0x64), "cn=a", "cn", "x"),
                       "expected attribute values");
  EXPECT_REJECTED_WITH(ber("{it{s{{s[s]}}}}", num(3), tag(0x64), "cn=a", "", "x"),
                       "empty attribute description");
  EXPECT_REJECTED_WITH(ber("{it{s{{s[i]}}}}", num(3), tag(0x64), "cn=a", "cn", num(1)),
                       "expected attribute value");
}

TEST(LdapMalformed, RandomMutationsNeverCrash) {
  std::vector<Bytes> corpus = {kLdapsearchBind,      kLdapsearchSearch,      kLdapsearchUnbind,
                               kLdapsearchAdminBind, kLdapsearchPagedSearch, built_search(),
                               built_entry(3, true), built_entry(4, false)};
  corpus.push_back(ber("{it{s{{e{s[s]}}{e{s[]}}}}t{{sb}}}", num(11), tag(0x66), "uid=a,dc=x", num(0), "mail",
                       "m", num(1), "cn", tag(0xa0), "1.3.6.1.1.13.1", num(0)));
  corpus.push_back(ber("{it{ssbts}}", num(14), tag(0x6c), "uid=b,dc=x", "uid=c", num(1), tag(0x80), "dc=y"));
  corpus.push_back(
      ber("{it{essts}}", num(0), tag(0x78), num(52), "", "bye", tag(0x8a), "1.3.6.1.4.1.1466.20036"));
  corpus.push_back(encode_simple_bind(9, "cn=x", "pw"));

  std::mt19937 random(20240611);
  std::size_t decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes bytes = corpus[random() % corpus.size()];
    const int mutations = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < mutations; ++i) {
      const std::size_t at = bytes.empty() ? 0 : random() % bytes.size();
      switch (random() % 7) {
        case 0:
          if (!bytes.empty()) bytes[at] = static_cast<std::uint8_t>(random());
          break;
        case 1:
          if (!bytes.empty()) bytes[at] ^= static_cast<std::uint8_t>(1U << (random() % 8));
          break;
        case 2:
          bytes.resize(at);
          break;
        case 3:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(random()));
          break;
        case 4:
          if (!bytes.empty()) bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        case 5:  // a length octet becomes long-form or huge
          if (!bytes.empty()) bytes[at] = static_cast<std::uint8_t>(0x80 | (random() % 9));
          break;
        case 6: {  // duplicate a slice
          const std::size_t n = std::min<std::size_t>(bytes.size() - at, random() % 16);
          Bytes slice(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                      bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), slice.begin(), slice.end());
          break;
        }
      }
    }
    const Frame f = frame(bytes, 1 << 16);
    if (f.status == Frame::Status::complete) {
      ASSERT_LE(f.size, bytes.size());
    }
    std::string error;
    const auto m = decode(bytes, error);
    if (!m) {
      ASSERT_FALSE(error.empty());
      continue;
    }
    ++decoded;
    ASSERT_EQ(m->raw.data(), bytes.data());
    ASSERT_EQ(m->raw.size(), bytes.size());
    ASSERT_EQ(f.status, Frame::Status::complete);
    ASSERT_EQ(f.size, bytes.size());
    if (m->op == Op::search_request) {
      ASSERT_TRUE(inside(m->filter, m->raw));
      const Bytes again = encode_search_with_limits(*m, 10, 20);
      const auto back = decode(again, error);
      ASSERT_TRUE(back) << error;
      ASSERT_EQ(back->filter_attributes, m->filter_attributes);
      ASSERT_EQ(back->size_limit, 10);
    }
    if (m->op == Op::search_result_entry) {
      const Bytes again = encode_entry_without(*m, [](std::string_view) { return true; });
      const auto back = decode(again, error);
      ASSERT_TRUE(back) << error;
      ASSERT_TRUE(back->entry_attributes.empty());
    }
  }
  // The mutations leave a fair share of messages valid, so the checks above did run.
  EXPECT_GT(decoded, 1000U);
}

// ---- encoding -------------------------------------------------------------------------------------

TEST(LdapEncode, ResultRoundTripsForEveryResponse) {
  for (Op op : {Op::bind_response, Op::search_result_done, Op::modify_response, Op::add_response,
                Op::delete_response, Op::modify_dn_response, Op::compare_response, Op::extended_response}) {
    const Bytes bytes = encode_result(42, op, result::insufficient_access_rights, "dc=example,dc=com",
                                      "denied by the gateway");
    auto m = ok(bytes);
    ASSERT_TRUE(m) << op_name(op);
    EXPECT_EQ(m->id, 42);
    EXPECT_EQ(m->op, op);
    EXPECT_EQ(m->result_code, 50);
    EXPECT_EQ(m->dn, "dc=example,dc=com");
    EXPECT_EQ(m->diagnostic, "denied by the gateway");
    EXPECT_FALSE(m->has_controls);
    EXPECT_TRUE(m->oid.empty());
  }
}

TEST(LdapEncode, ResultIsTheMinimalDerEncoding) {
  EXPECT_EQ(encode_result(2, Op::search_result_done, 0, "", ""), from_hex("300c02010265070a010004000400"));
  EXPECT_EQ(encode_result(1, Op::bind_response, 49, "", "x"), from_hex("300d02010161080a01310400040178"));
}

TEST(LdapEncode, ExtendedResponseNameOnlyForExtended) {
  auto ext = ok(encode_result(5, Op::extended_response, 0, "", "", kWhoAmIOid));
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->oid, kWhoAmIOid);
  // Other responses have no responseName: the argument is ignored.
  EXPECT_EQ(encode_result(5, Op::modify_response, 0, "", "", kWhoAmIOid),
            encode_result(5, Op::modify_response, 0, "", ""));
}

TEST(LdapEncode, ResultRejectsOpsWithoutLdapResult) {
  for (Op op : {Op::search_request, Op::search_result_entry, Op::intermediate_response, Op::unbind_request}) {
    EXPECT_THROW(encode_result(1, op, 0, "", ""), std::invalid_argument) << op_name(op);
  }
}

TEST(LdapEncode, LargeDiagnosticUsesLongFormLengths) {
  const std::string diagnostic(70000, 'd');
  const Bytes bytes = encode_result(3, Op::add_response, 80, "", diagnostic);
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->diagnostic, diagnostic);
  EXPECT_EQ(frame(bytes, 1 << 20).size, bytes.size());
  EXPECT_EQ(bytes[1], 0x83);  // three length octets
}

TEST(LdapEncode, NoticeOfDisconnection) {
  const Bytes bytes = encode_notice_of_disconnection(result::unavailable, "gateway shutting down");
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 0);
  EXPECT_EQ(m->op, Op::extended_response);
  EXPECT_EQ(m->result_code, 52);
  EXPECT_EQ(m->diagnostic, "gateway shutting down");
  EXPECT_EQ(m->oid, kNoticeOfDisconnectionOid);
}

TEST(LdapEncode, ExtendedRequestIsWhatLdapwhoamiSends) {
  // ldapwhoami's WhoAmI request (message 2, after its bind), captured from OpenLDAP 2.5.13.
  EXPECT_EQ(encode_extended_request(2, kWhoAmIOid),
            from_hex("301e02010277198017312e332e362e312e342e312e343230332e312e31312e33"));
  const Bytes bytes = encode_extended_request(1, kStartTlsOid);
  auto m = ok(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 1);
  EXPECT_EQ(m->op, Op::extended_request);
  EXPECT_EQ(m->oid, kStartTlsOid);
  EXPECT_FALSE(m->has_controls);
}

TEST(LdapEncode, SimpleBindIsWhatLdapsearchSends) {
  EXPECT_EQ(encode_simple_bind(1, "", ""), kLdapsearchBind);
  EXPECT_EQ(encode_simple_bind(1, "cn=admin,dc=example,dc=com", "secret"), kLdapsearchAdminBind);
  auto m = ok(encode_simple_bind(77, "cn=svc", std::string("p\0w", 3)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 77);
  EXPECT_EQ(m->version, 3);
  EXPECT_EQ(m->dn, "cn=svc");
  EXPECT_EQ(m->password, std::string("p\0w", 3));
}

TEST(LdapEncode, SearchWithLimitsKeepsEverythingElse) {
  for (const Bytes& original : {kLdapsearchSearch, kLdapsearchPagedSearch, built_search()}) {
    auto before = ok(original);
    ASSERT_TRUE(before);
    const Bytes bytes = encode_search_with_limits(*before, 500, 15);
    auto after = ok(bytes);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->id, before->id);
    EXPECT_EQ(after->dn, before->dn);
    EXPECT_EQ(after->scope, before->scope);
    EXPECT_EQ(after->deref_aliases, before->deref_aliases);
    EXPECT_EQ(after->types_only, before->types_only);
    EXPECT_EQ(after->size_limit, 500);
    EXPECT_EQ(after->time_limit, 15);
    EXPECT_EQ(str(after->filter), str(before->filter));
    EXPECT_EQ(after->filter_attributes, before->filter_attributes);
    EXPECT_EQ(after->attributes, before->attributes);
    EXPECT_EQ(after->has_controls, before->has_controls);
    // Only the two INTEGERs (and the lengths around them) changed: everything after the filter (the
    // attribute list and the controls) is the same tail.
    const auto filter_end =
        static_cast<std::size_t>(before->filter.data() + before->filter.size() - original.data());
    const auto tail = static_cast<std::ptrdiff_t>(original.size() - filter_end);
    ASSERT_GE(bytes.size(), original.size() - filter_end);
    EXPECT_TRUE(std::equal(original.end() - tail, original.end(), bytes.end() - tail));
    // The same limits give back the very same bytes.
    EXPECT_EQ(encode_search_with_limits(*before, before->size_limit, before->time_limit), original);
  }
}

TEST(LdapEncode, SearchWithLimitsAcrossLengthForms) {
  // A message just under 128 bytes whose limits grow it past the short length form.
  const std::string base(80, 'b');
  const Bytes small = ber("{it{seeiibts{}}}", num(2), tag(0x63), ("dc=" + base).c_str(), num(2), num(0),
                          num(0), num(0), num(0), tag(0x87), "objectClass");
  ASSERT_LT(small.size(), 128U);
  auto m = ok(small);
  ASSERT_TRUE(m);
  const Bytes grown = encode_search_with_limits(*m, 0x7fffffff, 0x7fffffff);
  EXPECT_GT(grown.size(), small.size());
  auto back = ok(grown);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->size_limit, 0x7fffffff);
  EXPECT_EQ(back->dn, "dc=" + base);
  EXPECT_EQ(frame(grown, 1 << 20).size, grown.size());
}

TEST(LdapEncode, SearchWithDerefAliasesReplaced) {
  for (const Bytes& original : {kLdapsearchSearch, kLdapsearchPagedSearch, built_search()}) {
    auto before = ok(original);
    ASSERT_TRUE(before);
    for (int deref : {0, 1, 2, 3}) {
      const Bytes bytes = encode_search_with_limits(*before, before->size_limit, before->time_limit, deref);
      auto after = ok(bytes);  // views into `bytes`
      ASSERT_TRUE(after);
      EXPECT_EQ(after->deref_aliases, deref);
      EXPECT_EQ(after->dn, before->dn);
      EXPECT_EQ(after->scope, before->scope);
      EXPECT_EQ(after->size_limit, before->size_limit);
      EXPECT_EQ(str(after->filter), str(before->filter));
      EXPECT_EQ(after->attributes, before->attributes);
      EXPECT_EQ(after->has_controls, before->has_controls);
    }
    EXPECT_THROW(encode_search_with_limits(*before, 0, 0, 4), std::invalid_argument);
    EXPECT_THROW(encode_search_with_limits(*before, 0, 0, -1), std::invalid_argument);
  }
}

TEST(LdapEncode, SearchWithLimitsAndControlsRemoved) {
  const Bytes original = built_search();  // paged results (critical, with a value), then subentries
  auto before = ok(original);
  ASSERT_TRUE(before);
  const std::vector<std::string> subentries{"1.3.6.1.4.1.4203.1.10.1"};
  const Bytes rewritten = encode_search_with_limits(*before, 10, 0, std::nullopt, subentries);
  auto after = ok(rewritten);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->controls, (std::vector<Control>{{"1.2.840.113556.1.4.319", true}}));
  EXPECT_EQ(after->size_limit, 10);
  EXPECT_EQ(str(after->filter), str(before->filter));
  EXPECT_NE(str(after->raw).find(std::string("\x30\x05\x02\x01\x05\x04", 6)), std::string::npos)
      << "the paging value is kept";
  // With every control removed, the [0] element goes too.
  const std::vector<std::string> both{"1.3.6.1.4.1.4203.1.10.1", "1.2.840.113556.1.4.319"};
  const Bytes without_any = encode_search_with_limits(*before, 10, 0, std::nullopt, both);
  auto bare = ok(without_any);
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->has_controls);
  EXPECT_TRUE(bare->controls.empty());
}

TEST(LdapEncode, AnyMessageWithoutSomeControls) {
  // A delete (primitive protocolOp) with three controls, and an unbind with one.
  const std::string sort = str(ber("{{s}}", "sn"));
  const Bytes del =
      ber("{itst{{sb}{so}{s}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), "1.3.6.1.4.1.4203.666.5.12",
          num(1), "1.2.840.113556.1.4.473", sort.data(), len(sort.size()), "1.2.3.4");
  auto before = ok(del);
  ASSERT_TRUE(before);
  const std::vector<std::string> relax_and_unknown{"1.3.6.1.4.1.4203.666.5.12", "1.2.3.4"};
  const Bytes bytes = encode_without_controls(*before, relax_and_unknown);
  auto after = ok(bytes);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->op, Op::delete_request);
  EXPECT_EQ(after->id, 9);
  EXPECT_EQ(after->dn, "cn=a,dc=x");
  EXPECT_EQ(after->controls, (std::vector<Control>{{"1.2.840.113556.1.4.473", false}}));
  EXPECT_EQ(after->sort_attributes, std::vector<std::string>{"sn"});
  // Nothing to remove: the same bytes.
  EXPECT_EQ(encode_without_controls(*before, std::vector<std::string>{"9.9.9"}), del);
  EXPECT_EQ(encode_without_controls(*before, {}), del);
  // An unbind left without controls.
  const Bytes unbind = ber("{itnt{{s}}}", num(4), tag(0x42), tag(0xa0), "1.2.3.4");
  auto goodbye = ok(unbind);
  ASSERT_TRUE(goodbye);
  EXPECT_EQ(encode_without_controls(*goodbye, std::vector<std::string>{"1.2.3.4"}),
            ber("{itn}", num(4), tag(0x42)));
  Message hand_made;
  hand_made.op = Op::delete_request;
  EXPECT_THROW(encode_without_controls(hand_made, {}), std::invalid_argument);
}

TEST(LdapEncode, SearchWithLimitsRejectsMisuse) {
  auto search = ok(kLdapsearchSearch);
  ASSERT_TRUE(search);
  EXPECT_THROW(encode_search_with_limits(*search, -1, 0), std::invalid_argument);
  auto bind = ok(kLdapsearchBind);
  ASSERT_TRUE(bind);
  EXPECT_THROW(encode_search_with_limits(*bind, 1, 1), std::invalid_argument);
  Message hand_made;
  hand_made.op = Op::search_request;
  EXPECT_THROW(encode_search_with_limits(hand_made, 1, 1), std::invalid_argument);
}

TEST(LdapEncode, EntryWithoutDroppedAttributes) {
  const Bytes original = built_entry(3, true);
  auto entry = ok(original);
  ASSERT_TRUE(entry);
  std::vector<std::string> asked;
  const Bytes bytes = encode_entry_without(*entry, [&](std::string_view description) {
    asked.emplace_back(description);
    return description == "userPassword" || description == "description";
  });
  EXPECT_EQ(asked, entry->entry_attributes);
  auto stripped = ok(bytes);
  ASSERT_TRUE(stripped);
  EXPECT_EQ(stripped->id, 3);
  EXPECT_EQ(stripped->dn, entry->dn);
  EXPECT_EQ(stripped->entry_attributes, (std::vector<std::string>{"cn", "mail"}));
  EXPECT_TRUE(stripped->has_controls);
  const std::string text = str(stripped->raw);
  EXPECT_EQ(text.find("{SSHA}secret"), std::string::npos);
  EXPECT_NE(text.find("Alice Liddell"), std::string::npos);
  EXPECT_NE(text.find("alice@example.com"), std::string::npos);
}

TEST(LdapEncode, EntryWithNothingDroppedIsUnchanged) {
  for (const Bytes& original : {built_entry(3, true), built_entry(8, false)}) {
    auto entry = ok(original);
    ASSERT_TRUE(entry);
    EXPECT_EQ(encode_entry_without(*entry, [](std::string_view) { return false; }), original);
    EXPECT_EQ(encode_entry_without(*entry, nullptr), original);
  }
}

TEST(LdapEncode, EntryWithEverythingDropped) {
  const Bytes original = built_entry();  // the decoded message views these bytes
  auto entry = ok(original);
  ASSERT_TRUE(entry);
  auto empty = ok(encode_entry_without(*entry, [](std::string_view) { return true; }));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->entry_attributes.empty());
  EXPECT_EQ(empty->dn, entry->dn);
}

TEST(LdapEncode, LargeEntryShrinksAcrossLengthForms) {
  const std::string photo(100000, 'p');
  const Bytes original = ber("{it{s{{s[s]}{s[o]}}}}", num(6), tag(0x64), "cn=big", "cn", "big", "jpegPhoto",
                             photo.data(), len(photo.size()));
  auto entry = ok(original);
  ASSERT_TRUE(entry);
  const Bytes small = encode_entry_without(*entry, [](std::string_view d) { return d == "jpegPhoto"; });
  EXPECT_LT(small.size(), 128U);
  auto back = ok(small);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->entry_attributes, std::vector<std::string>{"cn"});
  EXPECT_EQ(encode_entry_without(*entry, [](std::string_view) { return false; }), original);
}

TEST(LdapEncode, EntryWithoutRejectsOtherMessages) {
  auto search = ok(kLdapsearchSearch);
  ASSERT_TRUE(search);
  EXPECT_THROW(encode_entry_without(*search, nullptr), std::invalid_argument);
}

// ---- DNs ------------------------------------------------------------------------------------------

namespace {

Dn dn(std::string_view text) {
  std::string error;
  auto parsed = Dn::parse(text, error);
  EXPECT_TRUE(parsed) << text << ": " << error;
  return parsed.value_or(Dn());
}

bool invalid_dn(std::string_view text) {
  std::string error;
  const bool invalid = !Dn::parse(text, error);
  if (invalid) {
    EXPECT_FALSE(error.empty());
  }
  return invalid;
}

}  // namespace

TEST(LdapDn, NormalisesCaseAndSpaces) {
  EXPECT_EQ(dn("DC=Example, DC=COM").normalized(), "dc=example,dc=com");
  EXPECT_EQ(dn("uid=Alice , ou=People,dc=example,dc=com").normalized(),
            "uid=alice,ou=people,dc=example,dc=com");
  EXPECT_EQ(dn("cn=John   Smith,dc=x"), dn("CN=john smith,DC=X"));
  EXPECT_EQ(dn("cn=\\ padded\\ ,dc=x").normalized(), "cn=padded,dc=x");
  EXPECT_EQ(dn("dc=example,dc=com").rdn_count(), 2U);
}

TEST(LdapDn, RootIsEmpty) {
  const Dn root = dn("");
  EXPECT_TRUE(root.is_root());
  EXPECT_EQ(root.rdn_count(), 0U);
  EXPECT_EQ(root.normalized(), "");
  EXPECT_TRUE(root.within(root));
  EXPECT_TRUE(dn("dc=com").within(root));
  EXPECT_FALSE(root.within(dn("dc=com")));
}

TEST(LdapDn, EscapesDecodeToTheSameValue) {
  EXPECT_EQ(dn("cn=a\\,b,dc=x"), dn("cn=a\\2cb,dc=x"));
  EXPECT_EQ(dn("cn=a\\,b,dc=x").rdn_count(), 2U);
  EXPECT_EQ(dn("cn=a\\,b,dc=x").normalized(), "cn=a\\,b,dc=x");
  EXPECT_EQ(dn("cn=caf\\c3\\a9,dc=x"), dn("cn=café,dc=x"));
  EXPECT_EQ(dn("cn=\\#hash,dc=x").normalized(), "cn=\\#hash,dc=x");
}

TEST(LdapDn, MultiValuedRdnsCompareInAnyOrder) {
  EXPECT_EQ(dn("cn=a+sn=b,dc=x"), dn("SN=B+cn=A,dc=x"));
  EXPECT_EQ(dn("sn=b+cn=a,dc=x").normalized(), "cn=a+sn=b,dc=x");
  // an escaped '+' is part of the value, not a second AVA
  EXPECT_FALSE(dn("cn=a\\+sn=b,dc=x") == dn("cn=a+sn=b,dc=x"));
  EXPECT_EQ(dn("cn=a\\+sn\\=b,dc=x").normalized(), "cn=a\\+sn\\=b,dc=x");
}

TEST(LdapDn, UsualNamingAttributesUnderAnyName) {
  EXPECT_EQ(dn("commonName=x,domainComponent=com"), dn("cn=x,dc=com"));
  EXPECT_EQ(dn("2.5.4.3=x,0.9.2342.19200300.100.1.25=com"), dn("cn=x,dc=com"));
  EXPECT_EQ(dn("userid=x,organizationalUnitName=p"), dn("uid=x,ou=p"));
  EXPECT_EQ(dn("1.2.3.4=x").normalized(), "1.2.3.4=x");
}

TEST(LdapDn, HexValuesStayDistinctFromStrings) {
  const Dn binary = dn("cn=#04024869,dc=x");
  EXPECT_EQ(binary.normalized(), "cn=#04024869,dc=x");
  EXPECT_FALSE(binary == dn("cn=hi,dc=x"));
  EXPECT_FALSE(binary == dn("cn=\\#04024869,dc=x"));
}

TEST(LdapDn, InvalidDns) {
  for (std::string_view text : {"x", "cn=x,", "=x", ",dc=x", "cn", "cn=a;dc=b", "cn=\"quoted\"",
                                "oid.2.5.4.3=x", "cn=x,,dc=y", "cn=\\zz", "1cn=x", "cn=x+"}) {
    EXPECT_TRUE(invalid_dn(text)) << text;
  }
  EXPECT_TRUE(invalid_dn(std::string_view("cn=a\0,dc=evil", 13)));
}

TEST(LdapDn, WithinIsASuffixMatchOnWholeRdns) {
  const Dn base = dn("ou=People,dc=example,dc=com");
  EXPECT_TRUE(dn("ou=people,dc=example,dc=com").within(base));
  EXPECT_TRUE(dn("uid=a,ou=people,dc=Example,dc=com").within(base));
  EXPECT_TRUE(dn("cn=x,uid=a,ou=people,dc=example,dc=com").within(base));
  EXPECT_FALSE(dn("dc=example,dc=com").within(base));
  EXPECT_FALSE(dn("ou=groups,dc=example,dc=com").within(base));
  EXPECT_FALSE(dn("uid=a,ou=xpeople,dc=example,dc=com").within(base));
  EXPECT_FALSE(dn("uid=a,ou=people,dc=example,dc=org").within(base));
  EXPECT_FALSE(dn("uid=a\\,ou=people,dc=example,dc=com").within(base));
  EXPECT_FALSE(dn("uid=a,ou=people+cn=x,dc=example,dc=com").within(base));
}

TEST(LdapDn, ValuesOfCaseSensitiveAndUnknownTypesKeepTheirCase) {
  // slapd keeps memberUid=Alice and memberUid=alice apart (caseExactIA5Match), and labeledURI values
  // (caseExactMatch); a type the gateway does not know may be case-sensitive too.
  EXPECT_FALSE(dn("memberUid=Alice,dc=x") == dn("memberUid=alice,dc=x"));
  EXPECT_EQ(dn("MEMBERUID=Alice+CN=A,DC=X").normalized(), "cn=a+memberuid=Alice,dc=x");
  EXPECT_FALSE(dn("homeDirectory=/home/A,dc=x") == dn("homeDirectory=/home/a,dc=x"));
  EXPECT_FALSE(dn("labeledURI=http://X/,dc=x") == dn("labeledURI=http://x/,dc=x"));
  EXPECT_FALSE(dn("x-tenant=Acme,dc=x") == dn("x-tenant=acme,dc=x"));
  EXPECT_EQ(dn("X-Tenant=Acme,dc=x"), dn("x-tenant=Acme,dc=x"));
  EXPECT_EQ(dn("1.2.3.4=Ab  C").normalized(), "1.2.3.4=Ab  C");
  // The usual naming types, and telephone numbers, still compare without regard to case.
  EXPECT_EQ(dn("mail=A@Example.COM,o=X"), dn("mail=a@example.com,o=x"));
  EXPECT_EQ(dn("telephoneNumber=\\+1 555 X,st=Bavaria,l=Munich"),
            dn("telephonenumber=\\+1 555 x,st=bavaria,l=munich"));
}

TEST(LdapDn, AttributeTypesOfEveryAva) {
  EXPECT_EQ(dn("commonName=a+2.5.4.4=b,DC=x").attribute_types(),
            (std::vector<std::string>{"cn", "sn", "dc"}));
  EXPECT_TRUE(dn("").attribute_types().empty());
}

TEST(LdapDecode, AssertionAndSortControlsOfRequestsAreRead) {
  const std::string assertion = str(ber("t[t{ss}t{t{tsts}}]", tag(0xa1), tag(0xa3), "cn", "a", tag(0xa2),
                                        tag(0xa9), tag(0x81), "2.5.13.17", tag(0x83), "secret"));
  const std::string sort =
      str(ber("{{s}{ststb}}", "sn", "userPassword;binary", tag(0x80), "2.5.13.18", tag(0x81), num(1)));
  // a delete with an assertion, a sort (non-critical) and a control the gateway does not read
  auto m = ok(ber("{itst{{sbo}{so}{s}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), "1.3.6.1.1.12", num(1),
                  assertion.data(), len(assertion.size()), "1.2.840.113556.1.4.473", sort.data(),
                  len(sort.size()), "2.16.840.1.113730.3.4.2"));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_controls);
  EXPECT_EQ(m->controls, (std::vector<Control>{{"1.3.6.1.1.12", true},
                                               {"1.2.840.113556.1.4.473", false},
                                               {"2.16.840.1.113730.3.4.2", false}}));
  EXPECT_EQ(m->assertion_attributes, std::vector<std::string>{"cn"});
  EXPECT_TRUE(m->assertion_matches_any_attribute);
  EXPECT_EQ(m->sort_attributes, (std::vector<std::string>{"sn", "userPassword;binary"}));
  EXPECT_TRUE(m->filter_attributes.empty());
  // A response's controls are passed on unread, whatever their type.
  auto response = ok(ber("{it{eoo}t{{so}}}", num(9), tag(0x6b), num(0), "", len(0), "", len(0), tag(0xa0),
                         "1.3.6.1.1.12", "junk", len(4)));
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->assertion_attributes.empty());
}

TEST(LdapMalformed, AssertionAndSortControlsMustCarryAValueThatDecodes) {
  EXPECT_REJECTED_WITH(ber("{itst{{sb}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), "1.3.6.1.1.12", num(1)),
                       "control 1.3.6.1.1.12 without a value");
  EXPECT_REJECTED_WITH(
      ber("{itst{{so}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), "1.3.6.1.1.12", "junk", len(4)),
      "assertion control");
  const std::string two_filters = str(ber("t{ss}t{ss}", tag(0xa3), "cn", "a", tag(0xa3), "sn", "b"));
  EXPECT_REJECTED_WITH(ber("{itst{{so}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), "1.3.6.1.1.12",
                           two_filters.data(), len(two_filters.size())),
                       "after the assertion filter");
  const std::string no_keys = str(ber("{}"));
  EXPECT_REJECTED_WITH(ber("{itst{{so}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0),
                           "1.2.840.113556.1.4.473", no_keys.data(), len(no_keys.size())),
                       "no sort key");
  const std::string empty_type = str(ber("{{s}}", ""));
  EXPECT_REJECTED_WITH(ber("{itst{{so}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0),
                           "1.2.840.113556.1.4.473", empty_type.data(), len(empty_type.size())),
                       "empty sort key attribute type");
}

TEST(LdapMalformed, ControlTypesWithANulOctetAreRejected) {
  // slapd compares controlTypes as C strings: to it this is the deref control (and it answers with the
  // referenced entries), to an OID comparison an unknown control.
  const std::string deref("1.3.6.1.4.1.4203.666.5.16\0x", 27);
  EXPECT_REJECTED_WITH(ber("{itnt{{o}}}", num(3), tag(0x42), tag(0xa0), deref.data(), len(deref.size())),
                       "controlType contains a NUL octet");
  const std::string assertion("1.3.6.1.1.12\0", 13);
  const std::string filter = str(ber("t{ss}", tag(0xa3), "userPassword", "guess"));
  EXPECT_REJECTED_WITH(ber("{itst{{obo}}}", num(9), tag(0x4a), "cn=a,dc=x", tag(0xa0), assertion.data(),
                           len(assertion.size()), num(1), filter.data(), len(filter.size())),
                       "controlType contains a NUL octet");
}
