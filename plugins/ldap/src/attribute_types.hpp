// Attribute types under one spelling, so that access control cannot be bypassed by naming a type
// another way: "userPassword", "USERPASSWORD", "userPassword;binary" and "2.5.4.35" are one type.
//
// The gateway knows the types of OpenLDAP's core, cosine, inetorgperson and nis schemas (RFC 4519,
// 4524, 2798, 2307) and the credential attributes of Samba and Active Directory, by every name, by
// numeric OID, with their supertypes and whether their values compare without regard to case. It
// does not read a directory's schema: a type it does not know is matched by the spelling given
// (lower-cased), its values in DNs exactly, and an unknown numeric OID cannot be matched to a name
// at all, which the policy treats as possibly denied.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gw::ldap {

// ASCII case folding: LDAP compares descriptors (attribute type names, DN attribute types) this way.
char ascii_lower(char c);
std::string ascii_lower(std::string_view text);
bool equal_ignoring_case(std::string_view a, std::string_view b);

// The type of an attribute description in canonical form: options dropped (what follows the first
// ';'), letters lower-cased, and a known type under its first name ("2.5.4.3" and "commonName" ->
// "cn"). An unknown type stays as written, lower-cased.
std::string canonical_attribute_type(std::string_view description);

// The supertypes of a canonical type, nearest first ("cn" -> {"name"}, "member" ->
// {"distinguishedname"}); empty for a type without one or an unknown type.
std::vector<std::string> attribute_supertypes(std::string_view canonical_type);

// The known types whose supertype chain holds a canonical type ("name" -> {"cn", "sn", "c", ...}),
// in table order; empty for a type without subtypes or an unknown type.
std::vector<std::string> attribute_subtypes(std::string_view canonical_type);

// True when LDAP compares the values of a canonical type without regard to case (cn, ou, dc, uid,
// mail, ...); false for a type whose equality rule is case-sensitive (memberUid, homeDirectory,
// labeledURI, ...) or has none, and for a type the gateway does not know.
bool values_ignore_case(std::string_view canonical_type);

// numericoid = number 1*( DOT number ), number = DIGIT / ( LDIGIT 1*DIGIT )  (RFC 4512)
bool is_numeric_oid(std::string_view text);

// An attribute description's syntax (RFC 4512): a descr (letter, then letters, digits and '-') or a
// numeric OID, then options (';' followed by letters, digits and '-').
bool is_attribute_description(std::string_view text);

}  // namespace gw::ldap
