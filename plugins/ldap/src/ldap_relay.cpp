#include "ldap_relay.hpp"

#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

namespace gw::ldap {
namespace {

// The message id of the bind the gateway sends before an application's first operation. Only used
// while nothing else is in flight, so it cannot collide with an id the application chose.
constexpr std::int32_t kInjectedBindId = 0x7fffffff;

// Compares secrets in time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The answer to `request` the gateway makes itself; nothing for unbind and abandon, which have none.
std::optional<Bytes> local_answer(const Message& request, int code, std::string_view diagnostic) {
  const auto response = response_to(request.op);
  if (!response) return std::nullopt;
  return encode_result(
      request.id, *response, code, "", diagnostic,
      request.op == Op::extended_request ? std::string_view(request.oid) : std::string_view());
}

// StartTLS from an application is answered by the gateway: the path beyond the entry point is already
// encrypted (the tunnel, and the system's TLS to the directory), and TLS end to end would hide every
// later operation from the connector's policy.
constexpr std::string_view kStartTlsRefusal =
    "StartTLS is not offered through the gateway: the tunnel and the connector's TLS settings protect the "
    "path to the directory";

// ---- what both sides share --------------------------------------------------------------------------

// One relayed connection seen from the side that reads requests: requests are read from the client
// side (the application on the edge, the edge's stream on the connector) and decoded; the side decides
// on each (handle()); what it forwards goes to the directory in one write per batch of messages read
// together.
class RequestRelay {
 public:
  virtual ~RequestRelay() = default;
  // Bytes relayed from the directory to the client so far.
  std::uint64_t bytes_down() const noexcept { return bytes_down_; }

 protected:
  // What becomes of the directory's responses: relayed as bytes, or decoded to audit every operation
  // (`ldap.operation`; each request is remembered by message id until its result, at most max_pending at
  // a time) and, with a `policy`, to remove its denied attributes from entries and drop entries outside
  // its base DNs.
  struct Responses {
    bool decode = false;
    std::size_t max_pending = 0;
    const Policy* policy = nullptr;
  };

  // `route` names the destination or system in records; `client_label` names the client side in the
  // reasons a connection ends with ("client", "edge"). Without a `directory`, connect_directory() opens
  // it when the first bytes for it are ready, and they travel with the open (early data).
  RequestRelay(Host& host, Stream& client, Stream* directory, std::size_t max_message_size,
               const Limits& limits, AuditField route, const std::string& request_id,
               const std::string& principal, std::string client_label, Responses responses)
      : host_(host),
        directory_(directory),
        connection_(client.executor(), client, limits.idle_timeout),
        from_client_(client, max_message_size, connection_.activity),
        route_(std::move(route)),
        request_id_(request_id),
        principal_(principal),
        client_label_(std::move(client_label)),
        max_message_size_(max_message_size),
        responses_(responses),
        buffer_size_(limits.buffer_size) {
    connection_.directory = directory;
  }

  // Decides on one request; false when no more requests are to be read (unbind).
  virtual asio::awaitable<bool> handle(const Message& request) = 0;
  // Fields that say who the client is, for audit records (the client's address, the principal).
  virtual std::vector<AuditField> client_fields() const = 0;
  // Opens the directory with `early` as early data, for a relay constructed without one.
  virtual asio::awaitable<OpenResult> connect_directory(asio::const_buffer early) {
    OpenResult none;
    none.error = make_error_code(TunnelErrc::refused);
    none.reason = "no directory";
    co_return none;
  }

  // Remembers a request about to be forwarded until its result arrives, for its audit record (`dn` is
  // the DN to record). False when it cannot be (max_pending operations are in progress already, or
  // its message id is: RFC 4511 §4.1.1.1), after answering it without forwarding it (busy, 51, or
  // protocolError), an outcome counted and audited like the operation's own.
  asio::awaitable<bool> remember(const Message& request, std::string dn) {
    if (!responses_.decode) co_return true;
    if (pending_.count(request.id) != 0) {
      // A second result for one id could not be told apart, and the first record would be lost.
      audit_operation(request.op, request.id, request.dn, result::protocol_error, Clock::now());
      co_await answer(request, result::protocol_error,
                      "message id " + std::to_string(request.id) + " is already in use on this connection");
      co_return false;
    }
    if (pending_.size() >= responses_.max_pending) {
      host_.metrics()
          .counter("gateway_ldap_busy_total",
                   "LDAP requests answered busy (51) because max_pending_operations were in progress",
                   {{route_.key, std::get<std::string>(route_.value)}})
          .add();
      audit_operation(request.op, request.id, request.dn, result::busy, Clock::now());
      co_await answer(request, result::busy,
                      "more than " + std::to_string(responses_.max_pending) +
                          " operations in progress on this connection");
      co_return false;
    }
    pending_[request.id] = Pending{request.op, std::move(dn), Clock::now()};
    co_return true;
  }
  // The client abandoned operation `id`: its record is written now, with what was returned so far
  // (the directory sends no result for it).
  void abandon(std::int32_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    const Pending& pending = it->second;
    audit_operation(
        pending.op, id, pending.dn, std::nullopt, pending.start,
        pending.op == Op::search_request ? std::optional<std::int64_t>(pending.entries) : std::nullopt);
    pending_.erase(it);
  }

  bool responses_started() const noexcept { return responses_started_; }

  // Reads, decodes and handles requests until the client's end of stream (then half-closes the
  // directory), an unbind, a malformed message or a failure; then waits for the other tasks.
  asio::awaitable<std::string> run() {
    // Separate statements: GCC 12 miscompiles co_await inside && and ||.
    bool ended_well = co_await relay_requests();
    if (ended_well) ended_well = co_await flush();
    if (ended_well && directory_) co_await directory_->shutdown_write();
    co_await connection_.wait();
    if (opened_directory_) opened_directory_->close();
    co_return connection_.reason();
  }

  void append(ByteView bytes) { to_directory_.insert(to_directory_.end(), bytes.begin(), bytes.end()); }

  asio::awaitable<bool> flush() {
    if (to_directory_.empty()) co_return !connection_.stopped();
    const bool written = co_await write_directory(asio::buffer(to_directory_));
    to_directory_.clear();
    if (written) start_responses();
    co_return written;
  }

  // Writes to the directory, opening it with `bytes` as early data if it is not open yet. False when
  // that failed (the connection is stopped; a failed open is in open_failure()).
  asio::awaitable<bool> write_directory(asio::const_buffer bytes) {
    if (!directory_) {
      OpenResult opened = co_await connect_directory(bytes);
      if (!opened) {
        open_failure_ = opened.reason;
        co_await connection_.to_client.write(unreachable_notice(opened.reason));
        connection_.stop("cannot reach the directory: " + opened.reason);
        co_return false;
      }
      opened_directory_ = std::move(opened.stream);
      directory_ = opened_directory_.get();
      connection_.directory = directory_;
      if (connection_.stopped()) directory_->close();  // stopped while opening
      co_return !connection_.stopped();
    }
    IoResult w = co_await directory_->write(bytes);
    if (w.error) {
      connection_.stop("directory: " + w.error.message());
      co_return false;
    }
    co_return true;
  }

  bool directory_open() const noexcept { return directory_ != nullptr; }

 public:
  // Why opening the directory failed; empty if it did not (or was not needed).
  const std::string& open_failure() const noexcept { return open_failure_; }

 protected:
  // Answers `request` with a result the gateway makes up (nothing for unbind and abandon).
  asio::awaitable<void> answer(const Message& request, int code, std::string_view diagnostic) {
    if (auto bytes = local_answer(request, code, diagnostic)) {
      IoResult w = co_await connection_.to_client.write(*bytes);
      if (w.error) connection_.stop(client_label_ + ": " + w.error.message());
    }
  }

  // Ends the connection after a message from `from` ("client" or "directory") that did not decode:
  // logged, audited at level security, and a Notice of Disconnection to the client first.
  asio::awaitable<void> disconnect_malformed(const std::string& from, const std::string& error) {
    host_.logger().log(LogLevel::info, "ldap.malformed",
                       {{route_.key, std::get<std::string>(route_.value)},
                        {"request_id", request_id_},
                        {"from", from},
                        {"reason", error}});
    if (host_.audit().enabled(AuditClass::security)) {
      AuditEvent event{AuditClass::security, "ldap.malformed", {route_, {"request_id", request_id_}}};
      for (auto& field : client_fields()) event.fields.push_back(std::move(field));
      event.fields.push_back({"from", from});
      event.fields.push_back({"reason", error});
      host_.audit().record(event);
    }
    const std::string text =
        from == "client" ? "malformed LDAP message: " + error : "the directory sent a malformed message";
    const Bytes notice = encode_notice_of_disconnection(result::protocol_error, text);
    co_await connection_.to_client.write(notice);
    // Only the coroutine that reads the client side may drain it.
    if (from == "client") co_await close_gently(connection_.client, 64 * 1024, std::chrono::seconds(2));
    connection_.stop("malformed message from the " + from + ": " + error);
  }

  Host& host_;
  Stream* directory_;  // null until connect_directory() succeeded, for a relay constructed without one
  std::unique_ptr<Stream> opened_directory_;
  std::string open_failure_;
  Connection connection_;
  MessageReader from_client_;
  AuditField route_;
  const std::string& request_id_;
  const std::string& principal_;
  std::string client_label_;
  std::size_t max_message_size_;

 private:
  struct Pending {
    Op op;
    std::string dn;
    Clock::time_point start;
    std::int64_t entries = 0;
  };

  // The responses are relayed from the first write to the directory on (until then nothing can come
  // back, and the edge may read the answer to a bind of its own first).
  void start_responses() {
    if (responses_started_) return;
    responses_started_ = true;
    if (responses_.decode) {
      from_directory_.emplace(*directory_, max_message_size_, connection_.activity);
      connection_.spawn(relay_responses());
    } else {
      connection_.spawn(relay_raw(connection_, *directory_, buffer_size_, bytes_down_));
    }
  }

  asio::awaitable<void> relay_responses() {
    Bytes out;
    for (;;) {
      MessageReader::Next next = co_await from_directory_->next();
      if (next.status == MessageReader::Status::eof) break;
      if (next.status == MessageReader::Status::io_error) {
        connection_.stop("directory: " + next.error);
        co_return;
      }
      std::string error;
      std::optional<Message> response;
      if (next.status == MessageReader::Status::message) response = decode(next.message, error);
      if (next.status == MessageReader::Status::malformed) error = next.error;
      if (!response || (is_request(response->op))) {
        if (response) error = "a " + std::string(op_name(response->op)) + " is not a response";
        if (!out.empty()) co_await connection_.to_client.write(out);
        co_await disconnect_malformed("directory", error);
        co_return;
      }
      forward_response(*response, out);
      if (from_directory_->ready() || out.empty()) continue;  // send what arrived together at once
      IoResult w = co_await connection_.to_client.write(out);
      bytes_down_ += w.bytes;
      out.clear();
      if (w.error) {
        connection_.stop(client_label_ + ": " + w.error.message());
        co_return;
      }
    }
    if (!out.empty()) {
      IoResult w = co_await connection_.to_client.write(out);
      bytes_down_ += w.bytes;
    }
    co_await connection_.client.shutdown_write();
  }

  void forward_response(const Message& response, Bytes& out) {
    switch (response.op) {
      case Op::search_result_entry: {
        if (responses_.policy && !responses_.policy->entry_visible(response.dn)) {
          // The request check keeps searches inside the subtrees; this holds whatever the directory
          // does (an alias, a glued or rewritten database).
          audit_entry_dropped(response);
          return;
        }
        if (auto it = pending_.find(response.id); it != pending_.end()) ++it->second.entries;
        if (responses_.policy && responses_.policy->has_denied_attributes()) {
          const Policy& policy = *responses_.policy;
          const Bytes stripped = encode_entry_without(
              response, [&policy](std::string_view attribute) { return policy.attribute_denied(attribute); });
          out.insert(out.end(), stripped.begin(), stripped.end());
          return;
        }
        break;
      }
      case Op::search_result_reference:
      case Op::intermediate_response:
        break;
      default:
        if (auto it = pending_.find(response.id); it != pending_.end()) {
          audit_operation(response, it->second);
          pending_.erase(it);
        }
        break;
    }
    out.insert(out.end(), response.raw.begin(), response.raw.end());
  }

  void audit_entry_dropped(const Message& entry) {
    host_.metrics()
        .counter("gateway_ldap_entries_dropped_total",
                 "Entries the directory returned outside the allowed subtrees, not passed on",
                 {{route_.key, std::get<std::string>(route_.value)}})
        .add();
    if (!host_.audit().enabled(AuditClass::security)) return;
    AuditEvent event{AuditClass::security,
                     "ldap.entry_dropped",
                     {route_,
                      {"request_id", request_id_},
                      {"message_id", static_cast<std::int64_t>(entry.id)},
                      {"dn", entry.dn},
                      {"reason", std::string("the entry is outside the allowed subtrees")}}};
    for (auto& field : client_fields()) event.fields.push_back(std::move(field));
    host_.audit().record(event);
  }

  void audit_operation(const Message& response, const Pending& pending) {
    audit_operation(
        pending.op, response.id, pending.dn, response.result_code, pending.start,
        pending.op == Op::search_request ? std::optional<std::int64_t>(pending.entries) : std::nullopt);
  }

  // `result_code` absent: the operation was abandoned (`outcome=abandoned` instead).
  void audit_operation(Op op, std::int32_t message_id, const std::string& dn, std::optional<int> result_code,
                       Clock::time_point start, std::optional<std::int64_t> entries = std::nullopt) {
    if (!host_.audit().enabled(AuditClass::access)) return;
    AuditEvent event{AuditClass::access,
                     "ldap.operation",
                     {route_,
                      {"request_id", request_id_},
                      {"principal", principal_},
                      {"operation", std::string(op_name(op))},
                      {"message_id", static_cast<std::int64_t>(message_id)},
                      {"dn", dn}}};
    if (result_code) {
      event.fields.push_back({"result_code", static_cast<std::int64_t>(*result_code)});
    } else {
      event.fields.push_back({"outcome", std::string("abandoned")});
    }
    event.fields.push_back({"duration_ms", elapsed_ms(start)});
    if (entries) event.fields.push_back({"entries", *entries});
    host_.audit().record(event);
  }

  // False when the connection failed or was stopped.
  asio::awaitable<bool> relay_requests() {
    for (;;) {
      MessageReader::Next next = co_await from_client_.next();
      if (next.status == MessageReader::Status::eof) co_return true;
      if (next.status == MessageReader::Status::io_error) {
        connection_.stop(client_label_ + ": " + next.error);
        co_return false;
      }
      std::string error;
      std::optional<Message> request;
      if (next.status == MessageReader::Status::message) request = decode(next.message, error);
      if (next.status == MessageReader::Status::malformed) error = next.error;
      if (!request || !is_request(request->op)) {
        if (request) error = "a " + std::string(op_name(request->op)) + " is not a request";
        co_await disconnect_malformed("client", error);
        co_return false;
      }
      if (!co_await handle(*request)) co_return true;
      if (from_client_.ready()) continue;  // answer the messages already here together
      if (!co_await flush()) co_return false;
    }
  }

  Responses responses_;
  std::size_t buffer_size_;
  Bytes to_directory_;
  std::optional<MessageReader> from_directory_;  // when responses are decoded
  std::unordered_map<std::int32_t, Pending> pending_;
  bool responses_started_ = false;
  std::uint64_t bytes_down_ = 0;
};

// ---- edge ------------------------------------------------------------------------------------------

class EdgeConnection final : public RequestRelay {
 public:
  // An Internet destination's responses are decoded for the per-operation audit; an on-premise one's
  // pass as bytes (its connector audits them).
  // The directory is opened at `target` when the first bytes for it are ready (the client's first
  // operation, or the injected bind), and they travel with the open: through a connector they reach it
  // without waiting for the tunnel's answer first. A client that leaves without a word costs no
  // connection to the directory.
  EdgeConnection(Host& host, EdgeSession& session, const Common& common,
                 const std::optional<BindInjection>& injection, OpenRequest target)
      : RequestRelay(host, session.client, nullptr, common.max_message_size, session.destination.limits,
                     {"destination", session.destination.name}, session.request_id, session.principal,
                     "client",
                     {session.destination.proxy_type == ProxyType::internet, common.max_pending, nullptr}),
        session_(session),
        common_(common),
        target_(std::move(target)),
        injection_(injection) {}

  // Relays until either side ends; returns why it ended (empty for a normal end).
  asio::awaitable<std::string> relay() { return run(); }

 private:
  asio::awaitable<bool> handle(const Message& request) override {
    switch (request.op) {
      case Op::bind_request:
        co_await handle_bind(request);
        co_return true;
      case Op::unbind_request:
        if (directory_open()) append(request.raw);  // else there is nobody to say goodbye to
        co_return false;
      case Op::abandon_request:
        if (!responses_started()) co_return true;  // nothing can be in progress yet
        abandon(request.abandoned_id);
        append(request.raw);
        co_return true;
      case Op::extended_request:
        if (request.oid == kStartTlsOid) {
          co_await answer(request, result::protocol_error, kStartTlsRefusal);
          co_return true;
        }
        break;
      default:
        break;
    }
    if (injection_) {
      if (!injection_->client_password.empty() && !client_authenticated_) {
        co_await answer(request, result::strong_auth_required,
                        "bind with the credential the gateway issued for this destination first");
        co_return true;
      }
      if (std::any_of(request.controls.begin(), request.controls.end(),
                      [](const Control& control) { return is_proxied_authorization(control.type); })) {
        // The operation would run as an identity of the client's choosing, with the rights the
        // service account may delegate: the gateway binds for the client, so it decides who it is.
        co_await answer(request, result::insufficient_access_rights,
                        "proxied authorization is not allowed: the gateway binds for this destination");
        co_return true;
      }
      if (!bound_) {
        std::string failure = co_await inject_bind();
        if (!failure.empty()) {
          if (connection_.stopped()) co_return false;  // the directory could not be reached at all
          co_await answer(request, result::unavailable,
                          "the gateway could not bind to the directory: " + failure);
          co_return true;
        }
      }
    }
    const bool remembered = co_await remember(request, request.dn);
    if (!remembered) co_return true;
    append(request.raw);
    co_return true;
  }

  asio::awaitable<void> handle_bind(const Message& bind) {
    if (!injection_) {
      const bool remembered = co_await remember(bind, bind.dn);
      if (!remembered) co_return;
      append(bind.raw);
      co_return;
    }
    const bool anonymous = bind.auth == AuthKind::simple && bind.password.empty();
    int refusal = result::success;
    std::string why;
    if (bind.auth != AuthKind::simple) {
      refusal = result::auth_method_not_supported;
      why = "the gateway binds for this destination: use a simple bind";
    } else if (!injection_->client_password.empty()) {
      std::string ignored;
      auto dn = Dn::parse(bind.dn, ignored);
      if (anonymous) {
        refusal = result::inappropriate_authentication;
        why = "this destination needs the credential the gateway issued";
      } else if (!dn || !(*dn == *injection_->client_dn) ||
                 !same_secret(bind.password, injection_->client_password)) {
        refusal = result::invalid_credentials;
        why = "invalid credentials";
      }
    } else if (!anonymous) {
      refusal = result::invalid_credentials;
      why = "bind anonymously: the gateway binds as this destination's service account";
    }
    if (refusal != result::success) {
      client_authenticated_ = false;
      audit_bind_refused(bind, why);
      co_await answer(bind, refusal, why);
      co_return;
    }
    const bool remembered = co_await remember(bind, injection_->bind_dn);
    if (!remembered) co_return;
    const Bytes replaced = encode_simple_bind(bind.id, injection_->bind_dn, injection_->bind_password);
    append(replaced);
    bound_ = true;
    client_authenticated_ = true;
  }

  // Binds as the service account before the first operation of an application that did not bind.
  // Nothing is in flight yet (responses are not being relayed), so the answer is read here.
  asio::awaitable<std::string> inject_bind() {
    const Bytes bind = encode_simple_bind(kInjectedBindId, injection_->bind_dn, injection_->bind_password);
    if (!co_await write_directory(asio::buffer(bind))) co_return connection_.reason();
    MessageReader from_directory(*directory_, max_message_size_, connection_.activity);
    MessageReader::Next next = co_await from_directory.next();
    if (next.status != MessageReader::Status::message) {
      co_return next.status == MessageReader::Status::eof ? "the directory closed the connection"
                                                          : next.error;
    }
    std::string error;
    auto response = decode(next.message, error);
    if (!response) co_return "malformed answer from the directory: " + error;
    if (response->op != Op::bind_response || response->id != kInjectedBindId) {
      co_return "unexpected " + std::string(op_name(response->op)) + " from the directory";
    }
    if (!from_directory.buffered().empty()) co_return "the directory sent more than the bind response";
    if (response->result_code != result::success) {
      std::string failure =
          "bind as " + injection_->bind_dn + " failed with result " + std::to_string(response->result_code);
      if (!response->diagnostic.empty()) failure += " (" + response->diagnostic + ")";
      host_.logger().log(LogLevel::warn, "ldap.bind_failed",
                         {{"destination", session_.destination.name},
                          {"request_id", session_.request_id},
                          {"reason", failure}});
      co_return failure;
    }
    bound_ = true;
    co_return std::string();
  }

  std::vector<AuditField> client_fields() const override { return {{"client", session_.client.info().peer}}; }

  asio::awaitable<OpenResult> connect_directory(asio::const_buffer early) override {
    OpenRequest request = target_;
    request.early_data = early;
    co_return co_await open_directory(session_.tunnel, std::move(request), common_.starttls,
                                      common_.max_message_size);
  }

  void audit_bind_refused(const Message& bind, const std::string& why) {
    if (!host_.audit().enabled(AuditClass::security)) return;
    host_.audit().record({AuditClass::security,
                          "ldap.bind_refused",
                          {route_,
                           {"request_id", session_.request_id},
                           {"client", session_.client.info().peer},
                           {"dn", bind.dn},
                           {"reason", why}}});
  }

  EdgeSession& session_;
  const Common& common_;
  const OpenRequest target_;
  const std::optional<BindInjection>& injection_;
  bool bound_ = false;
  bool client_authenticated_ = false;
};

// ---- connector -------------------------------------------------------------------------------------

class ConnectorConnection final : public RequestRelay {
 public:
  ConnectorConnection(Host& host, const SystemConfig& config, OperationCounters& counters,
                      const ConnectorSession& session, Stream* directory)
      : RequestRelay(host, session.stream, directory, config.common.max_message_size, session.system.limits,
                     {"system", config.name}, session.request_id, session.principal, "edge",
                     {true, config.common.max_pending, &config.policy}),
        config_(config),
        counters_(counters),
        session_(session) {}

  // Relays until either side ends; returns why it ended (empty for a normal end).
  asio::awaitable<std::string> relay() { return run(); }

 private:
  asio::awaitable<bool> handle(const Message& request) override {
    if (request.op == Op::unbind_request) {
      // The connection ends whatever the unbind carries; it goes without the controls not allowed.
      counters_.count(request.op, false);
      Decision goodbye;
      for (const Control& control : config_.policy.controls_not_allowed(request))
        goodbye.removed_controls.push_back(control.type);
      forward(request, goodbye);
      co_return false;
    }
    Decision decision = config_.policy.check(request);
    counters_.count(request.op, !decision.allowed);
    if (!decision.allowed) {
      audit_denied(request, decision.result_code, decision.reason);
      co_await answer(request, decision.result_code, decision.reason);
      co_return true;
    }
    if (request.op == Op::abandon_request) {
      abandon(request.abandoned_id);
      forward(request, decision);
      co_return true;
    }
    if (request.op == Op::extended_request && request.oid == kStartTlsOid) {
      co_await answer(request, result::protocol_error, kStartTlsRefusal);
      co_return true;
    }
    const bool remembered = co_await remember(request, request.dn);
    if (!remembered) co_return true;
    forward(request, decision);
    co_return true;
  }

  // Appends `request` as the decision has it reach the directory: limits capped, aliases not
  // dereferenced, controls removed (each removal audited).
  void forward(const Message& request, const Decision& decision) {
    if (!decision.removed_controls.empty()) audit_controls_removed(request, decision.removed_controls);
    if (decision.size_limit || decision.time_limit || decision.deref_aliases) {
      append(encode_search_with_limits(request, decision.size_limit.value_or(request.size_limit),
                                       decision.time_limit.value_or(request.time_limit),
                                       decision.deref_aliases, decision.removed_controls));
    } else if (!decision.removed_controls.empty()) {
      append(encode_without_controls(request, decision.removed_controls));
    } else {
      append(request.raw);
    }
  }

  void audit_controls_removed(const Message& request, const std::vector<std::string>& controls) {
    std::string list;
    for (const std::string& control : controls) list += (list.empty() ? "" : ",") + control;
    audit_request(
        "ldap.controls_removed", request,
        {{"controls", list}, {"reason", std::string("non-critical controls this system does not allow")}});
  }

  std::vector<AuditField> client_fields() const override { return {{"principal", session_.principal}}; }

  void audit_denied(const Message& request, int code, const std::string& reason) {
    audit_request("ldap.denied", request,
                  {{"dn", request.dn}, {"result_code", static_cast<std::int64_t>(code)}, {"reason", reason}});
  }

  // A security record of `event` about `request`: who sent which operation, then `details`.
  void audit_request(const char* event, const Message& request, std::vector<AuditField> details) {
    if (!host_.audit().enabled(AuditClass::security)) return;
    AuditEvent record{AuditClass::security,
                      event,
                      {route_,
                       {"request_id", session_.request_id},
                       {"principal", session_.principal},
                       {"operation", std::string(op_name(request.op))},
                       {"message_id", static_cast<std::int64_t>(request.id)}}};
    for (AuditField& field : details) record.fields.push_back(std::move(field));
    host_.audit().record(record);
  }

  const SystemConfig& config_;
  OperationCounters& counters_;
  const ConnectorSession& session_;
};

}  // namespace

Common read_common(const Settings& settings, const TlsClientOptions& tls) {
  Common common{static_cast<std::size_t>(settings.get_int("max_message_size")), settings.get_bool("starttls"),
                static_cast<std::size_t>(settings.get_int("max_pending_operations"))};
  if (common.starttls && !tls.enabled) {
    throw RouteConfigError("settings.starttls",
                           "starttls needs tls.enabled: true (and the tls options to verify with)");
  }
  return common;
}

Bytes unreachable_notice(const std::string& reason) {
  return encode_notice_of_disconnection(result::unavailable, "cannot reach the directory: " + reason);
}

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

asio::awaitable<EdgeRelayResult> relay_edge(Host& host, EdgeSession& session, const Common& common,
                                            const std::optional<BindInjection>& injection,
                                            OpenRequest target) {
  EdgeConnection connection(host, session, common, injection, std::move(target));
  EdgeRelayResult result;
  result.reason = co_await connection.relay();
  result.open_failure = connection.open_failure();
  result.bytes_down = connection.bytes_down();
  co_return result;
}

asio::awaitable<std::string> relay_connector(Host& host, const SystemConfig& config,
                                             OperationCounters& counters, const ConnectorSession& session,
                                             Stream& directory) {
  ConnectorConnection connection(host, config, counters, session, &directory);
  co_return co_await connection.relay();
}

}  // namespace gw::ldap
