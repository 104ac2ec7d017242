// A connector's access policy for one ldap system: which operations, which subtrees, what limits,
// which attributes. Deny by default: a policy admits only what its settings name.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ldap_codec.hpp"

namespace gw::ldap {

// What may be done, as configured in the system's `operations` list:
//   bind, unbind, abandon, search, compare, modify, add, delete, modify_dn,
//   whoami, starttls, password_modify (extended operations by name), extended:<OID> (any other),
//   read-only  = bind, unbind, abandon, search, compare, whoami, starttls
//   read-write = read-only + modify, add, delete, modify_dn, password_modify
struct OperationSet {
  // Throws std::invalid_argument naming the entry ("operations[2]: unknown operation 'serch'") for an
  // unknown name or a malformed OID.
  static OperationSet parse(const std::vector<std::string>& names);

  bool allows(Op request) const noexcept;            // for every op but extended_request
  bool allows_extended(std::string_view oid) const;  // extended_request with requestName `oid`

  std::set<Op> ops;
  std::set<std::string> extended_oids;
};

// Which request controls may reach the directory, as configured in the system's `controls` list:
//   paged_results, sort, vlv, assertion, pre_read, post_read, manage_dsa_it, password_policy,
//   dont_use_copy, values_return, subentries, authorization_identity, proxied_authorization (both
//   versions), tree_delete, deref, relax, sync, persistent_search, noop (names), a numeric OID (any
//   other), and the preset
//   standard = paged_results, sort, vlv, assertion, pre_read, post_read, manage_dsa_it,
//              password_policy, dont_use_copy
struct ControlSet {
  // Throws std::invalid_argument naming the entry ("controls[1]: unknown control 'pagedresults'") for
  // an unknown name or a malformed OID.
  static ControlSet parse(const std::vector<std::string>& names);

  bool allows(std::string_view oid) const;

  std::set<std::string, std::less<>> oids;
};

struct PolicyConfig {
  OperationSet operations;
  ControlSet controls = ControlSet::parse({"standard"});
  // Subtrees requests may touch (a search's base, the entry of compare, modify, add, delete and
  // modify_dn, modify_dn's new location, and the userIdentity of a password modify). Empty: any DN.
  std::vector<Dn> base_dns;
  std::int32_t max_size_limit = 0;  // 0: no cap
  std::int32_t max_time_limit = 0;  // seconds; 0: no cap
  // Attribute types that never leave the directory: searches filtering on them (or on one of their
  // supertypes, or with an extensible match that tests every attribute), compares and modifies of
  // them are refused, and they are removed from returned entries. Matched in canonical form
  // (attribute_types.hpp): any case, without options, a known type by any name or its OID, and its
  // known subtypes with it (denying postalAddress denies registeredAddress). While any type is
  // denied, a numeric OID the gateway does not know counts as denied too.
  std::vector<std::string> denied_attributes;
};

// A setting the policy cannot take: `key` names it ("denied_attributes[1]"), what() says why.
class PolicyError : public std::invalid_argument {
 public:
  PolicyError(std::string key, const std::string& message)
      : std::invalid_argument(key + ": " + message), key_(std::move(key)), message_(message) {}
  const std::string& key() const noexcept { return key_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string key_;
  std::string message_;
};

struct Decision {
  bool allowed = false;
  // Denied: the resultCode to answer with (insufficient_access_rights, invalid_dn_syntax,
  // unwilling_to_perform) and why, for the diagnosticMessage and the audit record.
  int result_code = result::success;
  std::string reason;
  // Allowed search whose limits exceed a cap (or are 0, "no limit", while a cap is set): the limits
  // to forward instead. Unset when the request passes unchanged.
  std::optional<std::int32_t> size_limit;
  std::optional<std::int32_t> time_limit;
  // Allowed search that asks to dereference aliases while base DNs are set: 0 (neverDerefAliases) to
  // forward instead, since an alias may point outside the allowed subtrees.
  std::optional<int> deref_aliases;
  // Allowed request carrying non-critical controls that are not allowed: their types, to remove before
  // forwarding. A server ignores a non-critical control it will not apply (RFC 4511 4.1.11), so the
  // operation goes on without it.
  std::vector<std::string> removed_controls;
};

class Policy {
 public:
  // Throws PolicyError for a negative cap or a denied attribute that is not an attribute type
  // ("denied_attributes[1]: ...").
  explicit Policy(PolicyConfig config);

  // The decision for one decoded request (is_request(request.op)). A search with scope base on the
  // root DSE ("") is admitted whenever search is, whatever the base DNs: clients read it to learn
  // the server's capabilities. Bind is judged by operation only (a bind DN is an identity, not data).
  // On any operation, a critical control that `controls` does not allow is refused with
  // unavailableCriticalExtension (12), as a server that will not apply it answers, and a non-critical
  // one is removed (Decision::removed_controls). Allowed controls that would get around the attribute
  // or subtree rules are refused: an assertion control testing a denied attribute (as a filter
  // would), a sort control ordering by one, the pre-read and post-read controls while attributes are
  // denied, and the dereference control while base DNs or denied attributes are set.
  Decision check(const Message& request) const;

  // True when a returned entry's DN (objectName, as sent) lies within the base DNs, or is the root DSE
  // (""): entries elsewhere are dropped from results, whatever led the directory to return them.
  bool entry_visible(std::string_view dn) const;
  bool has_base_dns() const noexcept { return !config_.base_dns.empty(); }
  // The request's controls that `controls` does not allow, in order.
  std::vector<Control> controls_not_allowed(const Message& request) const;

  // True when an attribute description (as sent: any case, maybe with options, a name or an OID)
  // names a denied type or a subtype of one: for returned entries, modifies and new RDNs.
  bool attribute_denied(std::string_view description) const;
  // True when a filter, compare, assertion or sort on the description would test a denied type's
  // values: it names a denied type, a subtype of one, or a supertype of one ("name" when "cn" is
  // denied).
  bool attribute_reveals_denied(std::string_view description) const;
  bool has_denied_attributes() const noexcept { return !config_.denied_attributes.empty(); }

  const PolicyConfig& config() const noexcept { return config_; }

 private:
  // Within one of the base DNs (or no base DNs are set).
  bool inside(const Dn& dn) const;
  // A password modify request: with base DNs set, it must have a userIdentity naming an entry inside
  // them.
  Decision check_password_modify(const Message& request) const;
  // The refusal of a filter-like `test` ("filter", "compare", ...) of `attributes` ("filter on
  // denied attribute 'x'"), or of any attribute, when it would test a denied type's values; nothing
  // when it would not.
  std::optional<Decision> refuse_tests_of_denied(std::string_view test, std::string_view preposition,
                                                 const std::vector<std::string>& attributes,
                                                 bool any_attribute) const;
  // The refusal of a request for its controls, if any; else the non-critical controls to remove are
  // added to `removed`.
  std::optional<Decision> check_controls(const Message& request, std::vector<std::string>& removed) const;
  // The decision for an allowed request's DNs, filter, limits and attributes.
  Decision check_contents(const Message& request) const;

  // A numeric OID left after canonicalisation while some type is denied: it cannot be told apart
  // from a denied type's OID.
  bool unknown_oid(const std::string& type) const;

  PolicyConfig config_;
  std::set<std::string> denied_types_;     // canonical, with their known subtypes
  std::set<std::string> revealing_types_;  // denied_types_ and their supertypes
  std::vector<std::string> plain_bases_;   // normal forms of the base DNs that read as plain RDNs
};

}  // namespace gw::ldap
