#include "admin/admin_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace gw::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

AdminServer::AdminServer(asio::io_context& context, const tcp::endpoint& endpoint,
                         host::MetricsRegistry& metrics, std::function<bool()> healthy)
    : acceptor_(context, endpoint), metrics_(metrics), healthy_(std::move(healthy)) {}

void AdminServer::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void AdminServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void AdminServer::enable_lookup(std::string token, Lookup lookup) {
  lookup_token_ = std::move(token);
  lookup_ = std::move(lookup);
}

namespace {

constexpr std::string_view kLookupPrefix = "/v1/destinations/";

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool same_token(std::string_view presented, std::string_view expected) {
  if (expected.empty()) return false;
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  }
  return diff == 0;
}

}  // namespace

asio::awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    stream.expires_after(std::chrono::seconds(10));
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "gatewayd");
    const auto target = request.target();
    if (request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET");
      response.body() = "method not allowed\n";
    } else if (target == "/metrics") {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4");
      response.body() = metrics_.render();
    } else if (lookup_ && std::string_view(target.data(), target.size()).starts_with(kLookupPrefix)) {
      const auto authorization = request[http::field::authorization];
      const std::string_view presented(authorization.data(), authorization.size());
      response.set(http::field::content_type, "application/json");
      if (presented.size() < 7 || presented.substr(0, 7) != "Bearer " ||
          !same_token(presented.substr(7), lookup_token_)) {
        response.result(http::status::unauthorized);
        response.set(http::field::www_authenticate, "Bearer realm=\"gatewayd\"");
        response.body() = "{\"type\":\"unauthorized\",\"message\":\"a valid lookup token is required\"}\n";
      } else {
        const std::string name(target.data() + kLookupPrefix.size(), target.size() - kLookupPrefix.size());
        Answer answer = co_await lookup_(name);
        response.result(static_cast<http::status>(answer.status));
        response.body() = std::move(answer.body);
      }
    } else if (target == "/healthz") {
      bool healthy = healthy_();
      response.result(healthy ? http::status::ok : http::status::service_unavailable);
      response.set(http::field::content_type, "text/plain");
      response.body() = healthy ? "ok\n" : "draining\n";
    } else {
      response.result(http::status::not_found);
      response.set(http::field::content_type, "text/plain");
      response.body() = "not found\n";
    }
    response.prepare_payload();
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace gw::admin
