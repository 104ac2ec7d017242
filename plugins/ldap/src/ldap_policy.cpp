#include "ldap_policy.hpp"

#include "attribute_types.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace gw::ldap {

namespace {

constexpr Op kReadOnly[] = {Op::bind_request, Op::unbind_request, Op::abandon_request, Op::search_request,
                            Op::compare_request};
constexpr Op kWrites[] = {Op::modify_request, Op::add_request, Op::delete_request, Op::modify_dn_request};

Decision deny(int result_code, std::string reason) {
  Decision decision;
  decision.allowed = false;
  decision.result_code = result_code;
  decision.reason = std::move(reason);
  return decision;
}

Decision allow() {
  Decision decision;
  decision.allowed = true;
  return decision;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// A request's limit against a cap: the value to forward instead, or nullopt when it passes as is.
std::optional<std::int32_t> capped(std::int32_t requested, std::int32_t cap) {
  if (cap <= 0) return std::nullopt;
  if (requested == 0 || requested > cap) return cap;
  return std::nullopt;
}

}  // namespace

OperationSet OperationSet::parse(const std::vector<std::string>& names) {
  OperationSet set;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const std::string where = "operations[" + std::to_string(i) + "]: ";
    if (name.rfind("extended:", 0) == 0) {
      const std::string oid = name.substr(9);
      if (!is_numeric_oid(oid))
        throw std::invalid_argument(where + "malformed OID " + quoted(oid) + " in " + quoted(name));
      set.extended_oids.insert(oid);
    } else if (const std::optional<Op> op = request_named(name); op && op != Op::extended_request) {
      set.ops.insert(*op);
    } else if (name == "whoami") {
      set.extended_oids.insert(std::string(kWhoAmIOid));
    } else if (name == "starttls") {
      set.extended_oids.insert(std::string(kStartTlsOid));
    } else if (name == "password_modify") {
      set.extended_oids.insert(std::string(kPasswordModifyOid));
    } else if (name == "read-only" || name == "read-write") {
      set.ops.insert(std::begin(kReadOnly), std::end(kReadOnly));
      set.extended_oids.insert(std::string(kWhoAmIOid));
      set.extended_oids.insert(std::string(kStartTlsOid));
      if (name == "read-write") {
        set.ops.insert(std::begin(kWrites), std::end(kWrites));
        set.extended_oids.insert(std::string(kPasswordModifyOid));
      }
    } else {
      throw std::invalid_argument(where + "unknown operation " + quoted(name));
    }
  }
  return set;
}

bool OperationSet::allows(Op request) const noexcept {
  return request != Op::extended_request && ops.count(request) != 0;
}

bool OperationSet::allows_extended(std::string_view oid) const {
  return extended_oids.count(std::string(oid)) != 0;
}

Policy::Policy(PolicyConfig config) : config_(std::move(config)) {
  if (config_.max_size_limit < 0) throw PolicyError("max_size_limit", "is negative");
  if (config_.max_time_limit < 0) throw PolicyError("max_time_limit", "is negative");
  for (std::size_t i = 0; i < config_.denied_attributes.size(); ++i) {
    const std::string& denied = config_.denied_attributes[i];
    if (!is_attribute_description(denied)) {
      throw PolicyError("denied_attributes[" + std::to_string(i) + "]",
                        quoted(denied) + " is not an attribute type (a name or a numeric OID)");
    }
    std::string type = canonical_attribute_type(denied);
    for (std::string& supertype : attribute_supertypes(type)) revealing_types_.insert(std::move(supertype));
    // A subtype's values are values of its supertypes too: asked for postalAddress, the directory
    // returns registeredAddress as well.
    for (std::string& subtype : attribute_subtypes(type)) {
      revealing_types_.insert(subtype);
      denied_types_.insert(std::move(subtype));
    }
    revealing_types_.insert(type);
    denied_types_.insert(std::move(type));
  }
}

bool Policy::unknown_oid(const std::string& type) const {
  // A known type's OID has become its name; what remains numeric may be a denied type's OID.
  return !denied_types_.empty() && is_numeric_oid(type);
}

bool Policy::attribute_denied(std::string_view description) const {
  if (denied_types_.empty()) return false;
  const std::string type = canonical_attribute_type(description);
  return denied_types_.count(type) != 0 || unknown_oid(type);
}

bool Policy::attribute_reveals_denied(std::string_view description) const {
  if (denied_types_.empty()) return false;
  const std::string type = canonical_attribute_type(description);
  return revealing_types_.count(type) != 0 || unknown_oid(type);
}

bool Policy::inside(const Dn& dn) const {
  return config_.base_dns.empty() || std::any_of(config_.base_dns.begin(), config_.base_dns.end(),
                                                 [&dn](const Dn& base) { return dn.within(base); });
}

Decision Policy::check_password_modify(const Message& request) const {
  if (config_.base_dns.empty()) return allow();
  // Without a userIdentity the bound user's own password changes, and the bound user may be the
  // service account the edge binds as: not the client's to change, and not placed in a subtree.
  if (!request.password_identity) {
    return deny(result::insufficient_access_rights,
                "password change without a user identity, which would change the bound user's own");
  }
  // RFC 3062 leaves the identity's form to the server: OpenLDAP takes a DN, also as an authzId
  // "dn:<DN>". Anything else (a "u:" user name, say) cannot be placed in a subtree, so it is refused.
  std::string_view identity = *request.password_identity;
  if (identity.size() >= 3 && equal_ignoring_case(identity.substr(0, 3), "dn:")) identity.remove_prefix(3);
  std::string error;
  const std::optional<Dn> dn = Dn::parse(identity, error);
  if (!dn || dn->is_root() || !inside(*dn)) {
    return deny(result::insufficient_access_rights,
                "password change for " + quoted(*request.password_identity) +
                    (dn ? ", which is outside the allowed subtrees" : ", which is not a DN: " + error));
  }
  return allow();
}

std::optional<Decision> Policy::refuse_tests_of_denied(std::string_view test, std::string_view preposition,
                                                       const std::vector<std::string>& attributes,
                                                       bool any_attribute) const {
  for (const std::string& attribute : attributes) {
    if (attribute_reveals_denied(attribute)) {
      return deny(result::insufficient_access_rights, std::string(test) + " " + std::string(preposition) +
                                                          " denied attribute " + quoted(attribute));
    }
  }
  if (any_attribute && has_denied_attributes()) {
    // (:caseExactMatch:=x) tests every attribute, the denied ones included.
    return deny(
        result::insufficient_access_rights,
        std::string(test) + " with an extensible match on any attribute while some attributes are denied");
  }
  return std::nullopt;
}

std::optional<Decision> Policy::check_controls(const Message& request) const {
  // The operation fails with assertionFailed unless the entry matches: a compare in disguise.
  if (auto refused = refuse_tests_of_denied("assertion control", "on", request.assertion_attributes,
                                            request.assertion_matches_any_attribute)) {
    return refused;
  }
  // The order of the entries (and a VLV target's position) tells the values apart.
  if (auto refused = refuse_tests_of_denied("sort control", "on", request.sort_attributes, false))
    return refused;
  for (const std::string& control : request.controls) {
    // These return entries inside response controls, where denied attributes are not removed; deref
    // returns entries a DN-valued attribute points to, wherever they are.
    const bool read_entry = control == kPreReadControlOid || control == kPostReadControlOid;
    const bool deref = control == kDerefControlOid;
    if ((read_entry && has_denied_attributes()) ||
        (deref && (has_denied_attributes() || !config_.base_dns.empty()))) {
      return deny(result::insufficient_access_rights,
                  "control " + quoted(control) + " is not allowed" +
                      (read_entry ? " while some attributes are denied"
                                  : " while base DNs or denied attributes are set"));
    }
  }
  return std::nullopt;
}

Decision Policy::check(const Message& request) const {
  if (!is_request(request.op)) {
    return deny(result::protocol_error, std::string(op_name(request.op)) + " is not a request");
  }
  if (request.op == Op::extended_request) {
    if (!config_.operations.allows_extended(request.oid)) {
      return deny(result::insufficient_access_rights,
                  "extended operation " + quoted(request.oid) + " is not allowed");
    }
  } else if (!config_.operations.allows(request.op)) {
    return deny(result::insufficient_access_rights,
                "operation " + quoted(op_name(request.op)) + " is not allowed");
  }
  if (std::optional<Decision> refused = check_controls(request)) return std::move(*refused);
  if (request.op == Op::extended_request) {
    return request.oid == kPasswordModifyOid ? check_password_modify(request) : allow();
  }

  switch (request.op) {
    case Op::bind_request:
    case Op::unbind_request:
    case Op::abandon_request:
      return allow();
    default:
      break;
  }

  const std::string role = request.op == Op::search_request ? "base DN" : "DN";
  std::string error;
  const std::optional<Dn> dn = Dn::parse(request.dn, error);
  if (!dn)
    return deny(result::invalid_dn_syntax, "invalid " + role + " " + quoted(request.dn) + ": " + error);

  const bool root_dse = request.op == Op::search_request && dn->is_root() && request.scope == Scope::base;
  if (!root_dse && !inside(*dn)) {
    return deny(result::insufficient_access_rights,
                role + " " + quoted(request.dn) + " is outside the allowed subtrees");
  }

  switch (request.op) {
    case Op::search_request: {
      if (auto refused = refuse_tests_of_denied("filter", "on", request.filter_attributes,
                                                request.filter_matches_any_attribute)) {
        return std::move(*refused);
      }
      Decision decision = allow();
      decision.size_limit = capped(request.size_limit, config_.max_size_limit);
      decision.time_limit = capped(request.time_limit, config_.max_time_limit);
      if (!config_.base_dns.empty() && request.deref_aliases != 0) decision.deref_aliases = 0;
      return decision;
    }
    case Op::compare_request:
      return refuse_tests_of_denied("compare", "of", request.entry_attributes, false).value_or(allow());
    case Op::modify_dn_request: {
      const std::optional<Dn> rdn = Dn::parse(request.new_rdn, error);
      if (!rdn || rdn->rdn_count() != 1) {
        return deny(result::invalid_dn_syntax, "invalid new RDN " + quoted(request.new_rdn) +
                                                   (rdn ? ": not a single RDN" : ": " + error));
      }
      for (const std::string& type : rdn->attribute_types()) {
        // The new RDN's values are added to the entry: refused for a single-valued type that holds
        // another value, a modify in disguise.
        if (attribute_denied(type)) {
          return deny(result::insufficient_access_rights,
                      "new RDN " + quoted(request.new_rdn) + " names denied attribute " + quoted(type));
        }
      }
      if (request.new_superior) {
        const std::optional<Dn> superior = Dn::parse(*request.new_superior, error);
        if (!superior) {
          return deny(result::invalid_dn_syntax,
                      "invalid new superior " + quoted(*request.new_superior) + ": " + error);
        }
        if (!inside(*superior)) {
          return deny(result::insufficient_access_rights,
                      "new superior " + quoted(*request.new_superior) + " is outside the allowed subtrees");
        }
        return allow();
      }
      // The entry stays under its parent: the parent lies within a base exactly when the entry lies
      // strictly below that base.
      const bool parent_inside =
          config_.base_dns.empty() ||
          std::any_of(config_.base_dns.begin(), config_.base_dns.end(), [&dn](const Dn& base) {
            return dn->within(base) && dn->rdn_count() > base.rdn_count();
          });
      if (!parent_inside) {
        return deny(result::insufficient_access_rights,
                    "renaming " + quoted(request.dn) + " would move it outside the allowed subtrees");
      }
      return allow();
    }
    case Op::modify_request:
      // Deleting a value succeeds only if the value is there: a modify discloses like a compare.
      for (const std::string& attribute : request.entry_attributes) {
        if (attribute_denied(attribute)) {
          return deny(result::insufficient_access_rights, "modify of denied attribute " + quoted(attribute));
        }
      }
      return allow();
    default:  // add, delete
      return allow();
  }
}

}  // namespace gw::ldap
