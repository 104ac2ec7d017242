// LDAP messages as either side of the ldap route receives them: frame() finds them in the byte
// stream, decode() reads each, the connector's policy judges each request. What the gateway re-encodes
// must decode again to what it meant: a search with capped limits keeps its base, scope, filter and
// attributes; an entry with denied attributes removed keeps every other attribute and no denied one.
// The input doubles as DN text for Dn::parse.
#include <algorithm>

#include "fuzz/fuzz_target.hpp"
#include "ldap_codec.hpp"
#include "ldap_policy.hpp"

namespace {

using namespace gw::ldap;

const Policy& policy() {
  static const Policy instance([] {
    PolicyConfig config;
    config.operations = OperationSet::parse({"read-write"});
    std::string error;
    config.base_dns.push_back(*Dn::parse("ou=people,dc=example,dc=com", error));
    config.max_size_limit = 100;
    config.max_time_limit = 10;
    config.denied_attributes = {"userPassword", "telephoneNumber", "postalAddress"};
    return config;
  }());
  return instance;
}

void check_search_rewrite(const Message& search, const Decision& decision) {
  const Bytes rewritten =
      encode_search_with_limits(search, decision.size_limit.value_or(search.size_limit),
                                decision.time_limit.value_or(search.time_limit), decision.deref_aliases);
  std::string error;
  const auto again = decode(rewritten, error);
  if (!again) gw::fuzz::fail("a rewritten search does not decode: " + error);
  if (again->dn != search.dn || again->scope != search.scope ||
      again->filter_attributes != search.filter_attributes || again->attributes != search.attributes ||
      again->controls != search.controls || !std::ranges::equal(again->filter, search.filter)) {
    gw::fuzz::fail("a rewritten search asks for something else");
  }
  if (decision.size_limit && again->size_limit != *decision.size_limit)
    gw::fuzz::fail("size limit not capped");
  if (decision.time_limit && again->time_limit != *decision.time_limit)
    gw::fuzz::fail("time limit not capped");
}

void check_entry_filtering(const Message& entry) {
  const Bytes filtered = encode_entry_without(
      entry, [](std::string_view description) { return policy().attribute_denied(description); });
  std::string error;
  const auto again = decode(filtered, error);
  if (!again) gw::fuzz::fail("a filtered entry does not decode: " + error);
  std::vector<std::string> kept;
  for (const auto& attribute : entry.entry_attributes) {
    if (!policy().attribute_denied(attribute)) kept.push_back(attribute);
  }
  if (again->entry_attributes != kept || again->dn != entry.dn || again->id != entry.id) {
    gw::fuzz::fail("a filtered entry lost or kept the wrong attributes");
  }
}

}  // namespace

GW_FUZZ_TARGET(ldap) {
  ByteView buffered(data, size);
  for (int messages = 0; messages < 16 && !buffered.empty(); ++messages) {
    const Frame framed = frame(buffered, 64 * 1024);
    if (framed.status == Frame::Status::malformed && framed.error.empty())
      gw::fuzz::fail("malformed without a reason");
    if (framed.status != Frame::Status::complete) break;
    if (framed.size == 0 || framed.size > buffered.size()) gw::fuzz::fail("a frame outside the buffer");
    std::string error;
    const auto message = decode(buffered.first(framed.size), error);
    buffered = buffered.subspan(framed.size);
    if (!message) {
      if (error.empty()) gw::fuzz::fail("undecodable without a reason");
      continue;
    }
    if (is_request(message->op)) {
      const Decision decision = policy().check(*message);
      if (!decision.allowed && decision.reason.empty()) gw::fuzz::fail("a refusal without a reason");
      if (decision.allowed && message->op == Op::search_request) check_search_rewrite(*message, decision);
    } else if (message->op == Op::search_result_entry) {
      check_entry_filtering(*message);
    }
  }
  std::string error;
  if (auto dn = Dn::parse(gw::fuzz::text(data, size), error)) {
    if (!dn->within(*dn)) gw::fuzz::fail("a DN that is not within itself");
  } else if (error.empty()) {
    gw::fuzz::fail("a DN refused without a reason");
  }
  return 0;
}
