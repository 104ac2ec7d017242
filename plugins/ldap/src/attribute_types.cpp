#include "attribute_types.hpp"

#include <algorithm>
#include <unordered_map>

namespace gw::ldap {
namespace {

struct KnownType {
  std::string_view oid;
  std::string_view names;      // space-separated; the first is the canonical one
  std::string_view supertype;  // a name of another entry, or empty
  // Its equality rule, its own or its supertype's, ignores case: caseIgnoreMatch,
  // caseIgnoreIA5Match, caseIgnoreListMatch or telephoneNumberMatch. Others (caseExactIA5Match,
  // octetStringMatch, none at all, ...) tell "Alice" from "alice".
  bool values_ignore_case = false;
};

// From OpenLDAP's core, cosine, inetorgperson and nis schema files, then Samba's and Active
// Directory's password attributes.
constexpr KnownType kKnownTypes[] = {
    {"2.5.4.0", "objectClass", ""},
    {"2.5.4.1", "aliasedObjectName aliasedEntryName", ""},
    {"2.5.4.2", "knowledgeInformation", "", true},
    {"2.5.4.3", "cn commonName", "name", true},
    {"2.5.4.4", "sn surname", "name", true},
    {"2.5.4.5", "serialNumber", "", true},
    {"2.5.4.6", "c countryName", "name", true},
    {"2.5.4.7", "l localityName", "name", true},
    {"2.5.4.8", "st stateOrProvinceName", "name", true},
    {"2.5.4.9", "street streetAddress", "", true},
    {"2.5.4.10", "o organizationName", "name", true},
    {"2.5.4.11", "ou organizationalUnitName", "name", true},
    {"2.5.4.12", "title", "name", true},
    {"2.5.4.13", "description", "", true},
    {"2.5.4.14", "searchGuide", ""},
    {"2.5.4.15", "businessCategory", "", true},
    {"2.5.4.16", "postalAddress", "", true},
    {"2.5.4.17", "postalCode", "", true},
    {"2.5.4.18", "postOfficeBox", "", true},
    {"2.5.4.19", "physicalDeliveryOfficeName", "", true},
    {"2.5.4.20", "telephoneNumber", "", true},
    {"2.5.4.21", "telexNumber", ""},
    {"2.5.4.22", "teletexTerminalIdentifier", ""},
    {"2.5.4.23", "facsimileTelephoneNumber fax", ""},
    {"2.5.4.24", "x121Address", ""},
    {"2.5.4.25", "internationaliSDNNumber", ""},
    {"2.5.4.26", "registeredAddress", "postalAddress", true},
    {"2.5.4.27", "destinationIndicator", "", true},
    {"2.5.4.28", "preferredDeliveryMethod", ""},
    {"2.5.4.29", "presentationAddress", ""},
    {"2.5.4.30", "supportedApplicationContext", ""},
    {"2.5.4.31", "member", "distinguishedName"},
    {"2.5.4.32", "owner", "distinguishedName"},
    {"2.5.4.33", "roleOccupant", "distinguishedName"},
    {"2.5.4.34", "seeAlso", "distinguishedName"},
    {"2.5.4.35", "userPassword", ""},
    {"2.5.4.36", "userCertificate", ""},
    {"2.5.4.37", "cACertificate", ""},
    {"2.5.4.38", "authorityRevocationList", ""},
    {"2.5.4.39", "certificateRevocationList", ""},
    {"2.5.4.40", "crossCertificatePair", ""},
    {"2.5.4.41", "name", "", true},
    {"2.5.4.42", "givenName gn", "name", true},
    {"2.5.4.43", "initials", "name", true},
    {"2.5.4.44", "generationQualifier", "name", true},
    {"2.5.4.45", "x500UniqueIdentifier", ""},
    {"2.5.4.46", "dnQualifier", "", true},
    {"2.5.4.47", "enhancedSearchGuide", ""},
    {"2.5.4.48", "protocolInformation", ""},
    {"2.5.4.49", "distinguishedName", ""},
    {"2.5.4.50", "uniqueMember", ""},
    {"2.5.4.51", "houseIdentifier", "", true},
    {"2.5.4.52", "supportedAlgorithms", ""},
    {"2.5.4.53", "deltaRevocationList", ""},
    {"2.5.4.54", "dmdName", "name", true},
    {"2.5.4.65", "pseudonym", "name", true},
    {"1.3.6.1.4.1.250.1.57", "labeledURI", ""},
    {"0.9.2342.19200300.100.1.1", "uid userid", "", true},
    {"0.9.2342.19200300.100.1.3", "mail rfc822Mailbox", "", true},
    {"0.9.2342.19200300.100.1.25", "dc domainComponent", "", true},
    {"0.9.2342.19200300.100.1.37", "associatedDomain", "", true},
    {"1.2.840.113549.1.9.1", "email emailAddress pkcs9email", "", true},
    {"0.9.2342.19200300.100.1.2", "textEncodedORAddress", "", true},
    {"0.9.2342.19200300.100.1.4", "info", "", true},
    {"0.9.2342.19200300.100.1.5", "drink favouriteDrink", "", true},
    {"0.9.2342.19200300.100.1.6", "roomNumber", "", true},
    {"0.9.2342.19200300.100.1.7", "photo", ""},
    {"0.9.2342.19200300.100.1.8", "userClass", "", true},
    {"0.9.2342.19200300.100.1.9", "host", "", true},
    {"0.9.2342.19200300.100.1.10", "manager", ""},
    {"0.9.2342.19200300.100.1.11", "documentIdentifier", "", true},
    {"0.9.2342.19200300.100.1.12", "documentTitle", "", true},
    {"0.9.2342.19200300.100.1.13", "documentVersion", "", true},
    {"0.9.2342.19200300.100.1.14", "documentAuthor", ""},
    {"0.9.2342.19200300.100.1.15", "documentLocation", "", true},
    {"0.9.2342.19200300.100.1.20", "homePhone homeTelephoneNumber", "", true},
    {"0.9.2342.19200300.100.1.21", "secretary", ""},
    {"0.9.2342.19200300.100.1.22", "otherMailbox", ""},
    {"0.9.2342.19200300.100.1.23", "lastModifiedTime", ""},
    {"0.9.2342.19200300.100.1.24", "lastModifiedBy", ""},
    {"0.9.2342.19200300.100.1.26", "aRecord", "", true},
    {"0.9.2342.19200300.100.1.27", "mDRecord", "", true},
    {"0.9.2342.19200300.100.1.28", "mXRecord", "", true},
    {"0.9.2342.19200300.100.1.29", "nSRecord", "", true},
    {"0.9.2342.19200300.100.1.30", "sOARecord", "", true},
    {"0.9.2342.19200300.100.1.31", "cNAMERecord", "", true},
    {"0.9.2342.19200300.100.1.38", "associatedName", ""},
    {"0.9.2342.19200300.100.1.39", "homePostalAddress", "", true},
    {"0.9.2342.19200300.100.1.40", "personalTitle", "", true},
    {"0.9.2342.19200300.100.1.41", "mobile mobileTelephoneNumber", "", true},
    {"0.9.2342.19200300.100.1.42", "pager pagerTelephoneNumber", "", true},
    {"0.9.2342.19200300.100.1.43", "co friendlyCountryName", "", true},
    {"0.9.2342.19200300.100.1.44", "uniqueIdentifier", "", true},
    {"0.9.2342.19200300.100.1.45", "organizationalStatus", "", true},
    {"0.9.2342.19200300.100.1.46", "janetMailbox", "", true},
    {"0.9.2342.19200300.100.1.47", "mailPreferenceOption", ""},
    {"0.9.2342.19200300.100.1.48", "buildingName", "", true},
    {"0.9.2342.19200300.100.1.49", "dSAQuality", ""},
    {"0.9.2342.19200300.100.1.50", "singleLevelQuality", ""},
    {"0.9.2342.19200300.100.1.51", "subtreeMinimumQuality", ""},
    {"0.9.2342.19200300.100.1.52", "subtreeMaximumQuality", ""},
    {"0.9.2342.19200300.100.1.53", "personalSignature", ""},
    {"0.9.2342.19200300.100.1.54", "dITRedirect", ""},
    {"0.9.2342.19200300.100.1.55", "audio", ""},
    {"0.9.2342.19200300.100.1.56", "documentPublisher", "", true},
    {"2.16.840.1.113730.3.1.1", "carLicense", "", true},
    {"2.16.840.1.113730.3.1.2", "departmentNumber", "", true},
    {"2.16.840.1.113730.3.1.241", "displayName", "", true},
    {"2.16.840.1.113730.3.1.3", "employeeNumber", "", true},
    {"2.16.840.1.113730.3.1.4", "employeeType", "", true},
    {"0.9.2342.19200300.100.1.60", "jpegPhoto", ""},
    {"2.16.840.1.113730.3.1.39", "preferredLanguage", "", true},
    {"2.16.840.1.113730.3.1.40", "userSMIMECertificate", ""},
    {"2.16.840.1.113730.3.1.216", "userPKCS12", ""},
    {"1.3.6.1.1.1.1.0", "uidNumber", ""},
    {"1.3.6.1.1.1.1.1", "gidNumber", ""},
    {"1.3.6.1.1.1.1.2", "gecos", "", true},
    {"1.3.6.1.1.1.1.3", "homeDirectory", ""},
    {"1.3.6.1.1.1.1.4", "loginShell", ""},
    {"1.3.6.1.1.1.1.5", "shadowLastChange", ""},
    {"1.3.6.1.1.1.1.6", "shadowMin", ""},
    {"1.3.6.1.1.1.1.7", "shadowMax", ""},
    {"1.3.6.1.1.1.1.8", "shadowWarning", ""},
    {"1.3.6.1.1.1.1.9", "shadowInactive", ""},
    {"1.3.6.1.1.1.1.10", "shadowExpire", ""},
    {"1.3.6.1.1.1.1.11", "shadowFlag", ""},
    {"1.3.6.1.1.1.1.12", "memberUid", ""},
    {"1.3.6.1.1.1.1.13", "memberNisNetgroup", ""},
    {"1.3.6.1.1.1.1.14", "nisNetgroupTriple", ""},
    {"1.3.6.1.1.1.1.15", "ipServicePort", ""},
    {"1.3.6.1.1.1.1.16", "ipServiceProtocol", "name", true},
    {"1.3.6.1.1.1.1.17", "ipProtocolNumber", ""},
    {"1.3.6.1.1.1.1.18", "oncRpcNumber", ""},
    {"1.3.6.1.1.1.1.19", "ipHostNumber", "", true},
    {"1.3.6.1.1.1.1.20", "ipNetworkNumber", "", true},
    {"1.3.6.1.1.1.1.21", "ipNetmaskNumber", "", true},
    {"1.3.6.1.1.1.1.22", "macAddress", "", true},
    {"1.3.6.1.1.1.1.23", "bootParameter", ""},
    {"1.3.6.1.1.1.1.24", "bootFile", ""},
    {"1.3.6.1.1.1.1.26", "nisMapName", "name", true},
    {"1.3.6.1.1.1.1.27", "nisMapEntry", ""},
    {"1.3.6.1.4.1.7165.2.1.24", "sambaLMPassword", ""},
    {"1.3.6.1.4.1.7165.2.1.25", "sambaNTPassword", ""},
    {"1.2.840.113556.1.4.55", "dBCSPwd", ""},
    {"1.2.840.113556.1.4.90", "unicodePwd", ""},
    {"1.2.840.113556.1.4.94", "ntPwdHistory", ""},
    {"1.2.840.113556.1.4.125", "supplementalCredentials", ""},
    {"1.2.840.113556.1.4.160", "lmPwdHistory", ""},
};

bool is_keychar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool is_descr(std::string_view text) {
  return !text.empty() && ((text[0] >= 'a' && text[0] <= 'z') || (text[0] >= 'A' && text[0] <= 'Z')) &&
         std::all_of(text.begin(), text.end(), is_keychar);
}

// Every name and OID, lower-cased, to its entry.
const std::unordered_map<std::string, const KnownType*>& index() {
  static const std::unordered_map<std::string, const KnownType*> map = [] {
    std::unordered_map<std::string, const KnownType*> built;
    for (const KnownType& type : kKnownTypes) {
      built.emplace(std::string(type.oid), &type);
      std::string_view names = type.names;
      while (!names.empty()) {
        const std::size_t space = names.find(' ');
        built.emplace(ascii_lower(names.substr(0, space)), &type);
        names = space == std::string_view::npos ? std::string_view() : names.substr(space + 1);
      }
    }
    return built;
  }();
  return map;
}

const KnownType* find(std::string_view lowered) {
  const auto& map = index();
  const auto it = map.find(std::string(lowered));
  return it == map.end() ? nullptr : it->second;
}

std::string_view first_name(const KnownType& type) {
  return type.names.substr(0, type.names.find(' '));
}

}  // namespace

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string canonical_attribute_type(std::string_view description) {
  std::string type = ascii_lower(description.substr(0, description.find(';')));
  if (const KnownType* known = find(type)) return ascii_lower(first_name(*known));
  return type;
}

std::vector<std::string> attribute_supertypes(std::string_view canonical_type) {
  std::vector<std::string> chain;
  const KnownType* type = find(canonical_type);
  // The table has no cycles; the bound only keeps a mistaken edit from looping.
  while (type && !type->supertype.empty() && chain.size() < 8) {
    type = find(ascii_lower(type->supertype));
    if (type) chain.push_back(ascii_lower(first_name(*type)));
  }
  return chain;
}

std::vector<std::string> attribute_subtypes(std::string_view canonical_type) {
  std::vector<std::string> subtypes;
  for (const KnownType& type : kKnownTypes) {
    std::string name = ascii_lower(first_name(type));
    const std::vector<std::string> chain = attribute_supertypes(name);
    if (std::find(chain.begin(), chain.end(), canonical_type) != chain.end())
      subtypes.push_back(std::move(name));
  }
  return subtypes;
}

bool values_ignore_case(std::string_view canonical_type) {
  const KnownType* type = find(canonical_type);
  return type != nullptr && type->values_ignore_case;
}

bool is_numeric_oid(std::string_view text) {
  std::size_t components = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view number =
        text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
    if (number.empty() || (number.size() > 1 && number[0] == '0')) return false;
    if (!std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    ++components;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return components >= 2;
}

bool is_attribute_description(std::string_view text) {
  std::size_t semicolon = text.find(';');
  const std::string_view type = text.substr(0, semicolon);
  if (!is_descr(type) && !is_numeric_oid(type)) return false;
  while (semicolon != std::string_view::npos) {
    const std::size_t next = text.find(';', semicolon + 1);
    const std::string_view option =
        text.substr(semicolon + 1, next == std::string_view::npos ? text.npos : next - semicolon - 1);
    if (option.empty() || !std::all_of(option.begin(), option.end(), is_keychar)) return false;
    semicolon = next;
  }
  return true;
}

}  // namespace gw::ldap
