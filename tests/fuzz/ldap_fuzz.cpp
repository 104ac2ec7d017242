// LDAP messages as either side of the ldap route receives them: frame() finds them in the byte
// stream, decode() reads each, the connector's policy judges each request. What the gateway re-encodes
// must decode again to what it meant: a search with capped limits keeps its base, scope, filter and
// attributes; a request without the controls the policy removed keeps every other control, in order;
// an entry with denied attributes removed keeps every other attribute and no denied one.
// The relay's incremental reader (ldap_io.hpp) must cut the same bytes, arriving in pieces, into the
// same messages as frame() over all of them, with a small message size limit so that its buffer
// management (compaction, growth, the limit) is exercised. The input doubles as DN text for Dn::parse,
// and, alone and with the policy's base after it, as a returned entry's DN: whether the policy shows
// such an entry must be what parsing the DN and comparing it with the base says.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz/fuzz_target.hpp"
#include "ldap_codec.hpp"
#include "ldap_io.hpp"
#include "ldap_policy.hpp"
#include "support/piece_stream.hpp"

namespace {

using namespace gw::ldap;
namespace asio = boost::asio;

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

// The request's controls but those the decision removes; a removed control must be one the policy
// does not allow, and not critical.
std::vector<Control> kept_controls(const Message& request, const Decision& decision) {
  std::vector<Control> kept;
  for (const Control& control : request.controls) {
    if (std::ranges::find(decision.removed_controls, control.type) == decision.removed_controls.end()) {
      kept.push_back(control);
    } else if (control.critical || policy().config().controls.allows(control.type)) {
      gw::fuzz::fail("a critical or allowed control would be removed");
    }
  }
  return kept;
}

void check_controls_removed(const Message& request, const Decision& decision) {
  const Bytes rewritten = encode_without_controls(request, decision.removed_controls);
  std::string error;
  const auto again = decode(rewritten, error);
  if (!again) gw::fuzz::fail("a request without some controls does not decode: " + error);
  if (again->op != request.op || again->id != request.id || again->dn != request.dn ||
      again->controls != kept_controls(request, decision)) {
    gw::fuzz::fail("a request without some controls is another request");
  }
}

void check_search_rewrite(const Message& search, const Decision& decision) {
  const Bytes rewritten = encode_search_with_limits(search, decision.size_limit.value_or(search.size_limit),
                                                    decision.time_limit.value_or(search.time_limit),
                                                    decision.deref_aliases, decision.removed_controls);
  std::string error;
  const auto again = decode(rewritten, error);
  if (!again) gw::fuzz::fail("a rewritten search does not decode: " + error);
  if (again->dn != search.dn || again->scope != search.scope ||
      again->filter_attributes != search.filter_attributes || again->attributes != search.attributes ||
      again->controls != kept_controls(search, decision) ||
      !std::ranges::equal(again->filter, search.filter)) {
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

bool within_bases_parsed(std::string_view dn) {
  std::string error;
  const auto parsed = Dn::parse(dn, error);
  if (!parsed) return false;
  if (parsed->is_root()) return true;
  const auto& bases = policy().config().base_dns;
  return std::any_of(bases.begin(), bases.end(), [&](const Dn& base) { return parsed->within(base); });
}

void check_entry_visibility(std::string_view dn) {
  if (policy().entry_visible(dn) != within_bases_parsed(dn)) {
    gw::fuzz::fail("an entry is shown or dropped otherwise than its parsed DN says");
  }
}

// Messages as frame() finds them in all of `bytes`, and whether it stops at a malformed header; a
// malformed header must say why, and a message must lie within the bytes.
std::vector<Bytes> framed_whole(ByteView bytes, std::size_t max_message_size, bool& malformed) {
  std::vector<Bytes> messages;
  malformed = false;
  for (;;) {
    const Frame framed = frame(bytes, max_message_size);
    if (framed.status == Frame::Status::malformed) {
      if (framed.error.empty()) gw::fuzz::fail("malformed without a reason");
      malformed = true;
    }
    if (framed.status != Frame::Status::complete) break;
    if (framed.size == 0 || framed.size > bytes.size()) gw::fuzz::fail("a frame outside the buffer");
    messages.emplace_back(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(framed.size));
    bytes = bytes.subspan(framed.size);
  }
  return messages;
}

void check_incremental_reader(const std::uint8_t* data, std::size_t size) {
  const std::size_t piece = 1 + data[0] % 97;
  const std::size_t max_message_size = 16 + data[0] % 200;
  std::vector<std::string> pieces = gw::fuzz::pieces_of(gw::fuzz::text(data, size), piece);
  bool malformed = false;
  const std::vector<Bytes> expected = framed_whole(ByteView(data, size), max_message_size, malformed);
  std::size_t framed_bytes = 0;
  for (const auto& message : expected) framed_bytes += message.size();

  asio::io_context context;
  gw::test::PieceStream stream(context, std::move(pieces));
  gw::Watchdog activity(context.get_executor(), std::chrono::milliseconds(0), [] {});
  MessageReader reader(stream, max_message_size, activity);
  std::vector<Bytes> read;
  MessageReader::Status last = MessageReader::Status::eof;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          const MessageReader::Next next = co_await reader.next();
          last = next.status;
          if (next.status != MessageReader::Status::message) co_return;
          read.emplace_back(next.message.begin(), next.message.end());
        }
      },
      asio::detached);
  context.run();
  if (read != expected) gw::fuzz::fail("the incremental reader cuts the stream into other messages");
  const bool leftover = framed_bytes < size;
  if (last != (malformed || leftover ? MessageReader::Status::malformed : MessageReader::Status::eof)) {
    gw::fuzz::fail("the incremental reader ends the stream otherwise than frame()");
  }
}

}  // namespace

GW_FUZZ_TARGET(ldap) {
  if (size > 0) check_incremental_reader(data, size);
  bool malformed = false;
  const std::vector<Bytes> messages = framed_whole(ByteView(data, size), 64 * 1024, malformed);
  for (std::size_t i = 0; i < messages.size() && i < 16; ++i) {
    std::string error;
    const auto message = decode(messages[i], error);
    if (!message) {
      if (error.empty()) gw::fuzz::fail("undecodable without a reason");
      continue;
    }
    if (is_request(message->op)) {
      const Decision decision = policy().check(*message);
      if (!decision.allowed && decision.reason.empty()) gw::fuzz::fail("a refusal without a reason");
      if (decision.allowed && message->op == Op::search_request) {
        check_search_rewrite(*message, decision);
      } else if (decision.allowed && !decision.removed_controls.empty()) {
        check_controls_removed(*message, decision);
      }
    } else if (message->op == Op::search_result_entry) {
      check_entry_filtering(*message);
      check_entry_visibility(message->dn);
    }
  }
  const std::string_view text = gw::fuzz::text(data, size);
  check_entry_visibility(text);
  check_entry_visibility(std::string(text) + ",ou=people,dc=example,dc=com");
  std::string error;
  if (auto dn = Dn::parse(text, error)) {
    if (!dn->within(*dn)) gw::fuzz::fail("a DN that is not within itself");
  } else if (error.empty()) {
    gw::fuzz::fail("a DN refused without a reason");
  }
  return 0;
}
