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

struct NamedControl {
  std::string_view name;
  std::string_view oid;
};
constexpr NamedControl kNamedControls[] = {
    {"paged_results", "1.2.840.113556.1.4.319"},                   // RFC 2696
    {"sort", kSortControlOid},                                     // RFC 2891
    {"vlv", "2.16.840.1.113730.3.4.9"},                            // draft-ietf-ldapext-ldapv3-vlv
    {"assertion", kAssertionControlOid},                           // RFC 4528
    {"pre_read", kPreReadControlOid},                              // RFC 4527
    {"post_read", kPostReadControlOid},                            // RFC 4527
    {"manage_dsa_it", "2.16.840.1.113730.3.4.2"},                  // RFC 3296
    {"password_policy", "1.3.6.1.4.1.42.2.27.8.5.1"},              // draft-behera-ldap-password-policy
    {"dont_use_copy", "1.3.6.1.1.22"},                             // RFC 6171
    {"values_return", "1.2.826.0.1.3344810.2.3"},                  // RFC 3876
    {"subentries", "1.3.6.1.4.1.4203.1.10.1"},                     // RFC 3672
    {"authorization_identity", "2.16.840.1.113730.3.4.16"},        // RFC 3829
    {"proxied_authorization", kProxiedAuthorizationControlOid},    // RFC 4370
    {"proxied_authorization", kProxiedAuthorizationV1ControlOid},  // its draft's version 1
    {"tree_delete", "1.2.840.113556.1.4.805"},
    {"deref", kDerefControlOid},
    {"relax", "1.3.6.1.4.1.4203.666.5.12"},  // draft-zeilenga-ldap-relax
    {"sync", "1.3.6.1.4.1.4203.1.9.1.1"},    // RFC 4533
    {"persistent_search", "2.16.840.1.113730.3.4.3"},
    {"noop", "1.3.6.1.4.1.4203.666.5.2"},
};
// Controls that change what a client sees only within what it may see anyway.
constexpr std::string_view kStandardControls[] = {
    "paged_results",   "sort",         "vlv", "assertion", "pre_read", "post_read", "manage_dsa_it",
    "password_policy", "dont_use_copy"};

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

// RDNs of the form type=value, one AVA each, with a type of letters, digits and hyphens (starting with
// a letter) and a non-empty value of letters, digits and `-_.@`: no escape, space, quote or
// multi-valued RDN, so that the text reads as these RDNs and nothing else.
bool plain_rdns(std::string_view text) {
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (;;) {
    const std::size_t comma = text.find(',');
    const std::string_view rdn = text.substr(0, comma);
    const std::size_t equals = rdn.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == rdn.size() || !alpha(rdn[0])) {
      return false;
    }
    for (char c : rdn.substr(0, equals)) {
      if (!alpha(c) && !digit(c) && c != '-') return false;
    }
    for (char c : rdn.substr(equals + 1)) {
      if (!alpha(c) && !digit(c) && c != '-' && c != '_' && c != '.' && c != '@') return false;
    }
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
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

ControlSet ControlSet::parse(const std::vector<std::string>& names) {
  ControlSet set;
  const auto add_named = [&set](std::string_view name) {
    bool found = false;
    for (const NamedControl& control : kNamedControls) {
      if (control.name != name) continue;
      set.oids.emplace(control.oid);
      found = true;
    }
    return found;
  };
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "standard") {
      for (std::string_view standard : kStandardControls) add_named(standard);
    } else if (is_numeric_oid(name)) {
      set.oids.insert(name);
    } else if (!add_named(name)) {
      const bool looks_like_oid = !name.empty() && name.find_first_not_of("0123456789.") == std::string::npos;
      throw std::invalid_argument("controls[" + std::to_string(i) + "]: " +
                                  (looks_like_oid ? "malformed OID " : "unknown control ") + quoted(name));
    }
  }
  return set;
}

bool ControlSet::allows(std::string_view oid) const {
  return oids.find(oid) != oids.end();
}

Policy::Policy(PolicyConfig config) : config_(std::move(config)) {
  for (const Dn& base : config_.base_dns) {
    if (!base.is_root() && plain_rdns(base.normalized())) plain_bases_.push_back(base.normalized());
  }
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

std::vector<Control> Policy::controls_not_allowed(const Message& request) const {
  std::vector<Control> out;
  for (const Control& control : request.controls) {
    if (!config_.controls.allows(control.type)) out.push_back(control);
  }
  return out;
}

std::optional<Decision> Policy::check_controls(const Message& request,
                                               std::vector<std::string>& removed) const {
  for (const Control& control : controls_not_allowed(request)) {
    if (control.critical) {
      return deny(result::unavailable_critical_extension,
                  "critical control " + quoted(control.type) + " is not allowed on this system");
    }
    removed.push_back(control.type);
  }
  const auto forwarded = [&removed](std::string_view type) {
    return std::find(removed.begin(), removed.end(), type) == removed.end();
  };
  // The operation fails with assertionFailed unless the entry matches: a compare in disguise.
  if (forwarded(kAssertionControlOid)) {
    if (auto refused = refuse_tests_of_denied("assertion control", "on", request.assertion_attributes,
                                              request.assertion_matches_any_attribute)) {
      return refused;
    }
  }
  // The order of the entries (and a VLV target's position) tells the values apart.
  if (forwarded(kSortControlOid)) {
    if (auto refused = refuse_tests_of_denied("sort control", "on", request.sort_attributes, false))
      return refused;
  }
  for (const Control& control : request.controls) {
    if (!forwarded(control.type)) continue;
    // These return entries inside response controls, where denied attributes are not removed; deref
    // returns entries a DN-valued attribute points to, wherever they are.
    const bool read_entry = control.type == kPreReadControlOid || control.type == kPostReadControlOid;
    const bool deref = control.type == kDerefControlOid;
    if ((read_entry && has_denied_attributes()) ||
        (deref && (has_denied_attributes() || !config_.base_dns.empty()))) {
      return deny(result::insufficient_access_rights,
                  "control " + quoted(control.type) + " is not allowed" +
                      (read_entry ? " while some attributes are denied"
                                  : " while base DNs or denied attributes are set"));
    }
  }
  return std::nullopt;
}

bool Policy::entry_visible(std::string_view dn) const {
  if (config_.base_dns.empty()) return true;
  // Most entries come back spelled as the base's normal form, below it a few plain RDNs: such a DN
  // lies within the base without being parsed (parsing costs about a microsecond per entry).
  for (const std::string& base : plain_bases_) {
    if (dn == base) return true;
    if (dn.size() > base.size() + 1 && dn.ends_with(base) && dn[dn.size() - base.size() - 1] == ',' &&
        plain_rdns(dn.substr(0, dn.size() - base.size() - 1))) {
      return true;
    }
  }
  std::string error;
  const std::optional<Dn> parsed = Dn::parse(dn, error);
  return parsed && (parsed->is_root() || inside(*parsed));
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
  std::vector<std::string> removed;
  if (std::optional<Decision> refused = check_controls(request, removed)) return std::move(*refused);
  Decision decision = check_contents(request);
  if (decision.allowed) decision.removed_controls = std::move(removed);
  return decision;
}

Decision Policy::check_contents(const Message& request) const {
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
