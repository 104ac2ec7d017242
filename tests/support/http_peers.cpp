#include "support/http_peers.hpp"

#include <unistd.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <fstream>
#include <sstream>

#include "support/digest.hpp"
#include "support/poll.hpp"

namespace gw::e2e {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

namespace {

bool accepts_connections(std::uint16_t port) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

}  // namespace

// ---- Nginx -----------------------------------------------------------------------------------------

Nginx::Nginx(std::optional<Tls> tls) : root_(dir_.path() / "html"), port_(free_port()) {
  std::filesystem::create_directories(root_);
  std::filesystem::create_directories(dir_.path() / "logs");
  const std::string d = dir_.path().string();
  std::ostringstream conf;
  // As root, nginx's workers would drop to "nobody", who cannot read the test's private directory.
  conf << (::geteuid() == 0 ? "user root;\n" : "") << "daemon off;\nworker_processes 1;\npid " << d
       << "/nginx.pid;\nerror_log " << d << "/logs/error.log;\nevents { worker_connections 512; }\nhttp {\n"
       << "  log_format gw '$connection $request $status host=$http_host auth=$http_authorization "
          "xfh=$http_x_forwarded_host';\n"
       << "  access_log " << d << "/logs/access.log gw;\n"
       << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
       << "  fastcgi_temp_path " << d << "/fcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n  scgi_temp_path "
       << d << "/scgi;\n"
       << "  keepalive_requests 100000;\n"
       << "  server {\n    listen 127.0.0.1:" << port_ << (tls ? " ssl" : "") << ";\n";
  if (tls) {
    conf << "    ssl_certificate " << tls->cert_file.string() << ";\n    ssl_certificate_key "
         << tls->key_file.string() << ";\n";
  }
  conf << "    root " << root_.string() << ";\n"
       << "    location = /echo-headers { return 200 \"host=$http_host auth=$http_authorization "
          "xfh=$http_x_forwarded_host q=$args\\n\"; }\n"
       << "    location = /redirect { return 302 http://127.0.0.1:" << port_ << "/allowed/x.txt; }\n"
       << "    location = /redirect-odd { add_header Location \"HTTP://127.0.0.1:" << port_
       << "#top\"; add_header Location \"http://other.example/x\"; return 200 \"odd\\n\"; }\n"
       << "  }\n}\n";
  const auto conf_file = dir_.write("nginx.conf", conf.str());
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"nginx", "-p", d, "-e", d + "/logs/error.log", "-c", conf_file.string()});
  if (!poll_until([&] { return accepts_connections(port_) || !process_->running(); }) ||
      !process_->running()) {
    ADD_FAILURE() << "nginx did not start: " << process_->text() << read_file(dir_.path() / "logs/error.log");
  }
}

Nginx::~Nginx() {
  if (process_) {
    process_->terminate();
    if (!process_->wait_for_exit()) process_->kill();
  }
}

void Nginx::put_file(const std::string& path, const std::string& content) {
  dir_.write("html/" + path, content);
}

std::vector<std::string> Nginx::access_log() const {
  std::vector<std::string> lines;
  std::istringstream in(read_file(dir_.path() / "logs/access.log"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Nginx::access_log_when(
    const std::function<bool(const std::vector<std::string>&)>& ready) const {
  std::vector<std::string> lines;
  poll_until([&] {
    lines = access_log();
    return ready(lines);
  });
  return lines;
}

std::vector<std::string> Nginx::access_log_with(std::size_t lines) const {
  return access_log_when([lines](const std::vector<std::string>& log) { return log.size() >= lines; });
}

// ---- ThreadedServer --------------------------------------------------------------------------------

struct ThreadedServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::function<void(tcp::socket&)> serve;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::vector<std::thread> connections;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
};

ThreadedServer::ThreadedServer(std::function<void(tcp::socket&)> serve) : state_(std::make_shared<State>()) {
  state_->serve = std::move(serve);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  port_ = state_->acceptor.local_endpoint().port();
  acceptor_ = std::thread([state = state_] {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(state->io);
      boost::system::error_code ec;
      state->acceptor.accept(*socket, ec);
      if (ec || state->stopping) return;
      std::lock_guard lock(state->mutex);
      state->sockets.push_back(socket);
      state->connections.emplace_back([state, socket] { state->serve(*socket); });
    }
  });
}

ThreadedServer::~ThreadedServer() {
  state_->stopping = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  {
    // close() does not wake a blocking accept(): a connection does.
    asio::io_context io;
    tcp::socket poke(io);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  }
  acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& socket : state_->sockets) socket->shutdown(tcp::socket::shutdown_both, ec);
    connections = std::move(state_->connections);
  }
  for (auto& t : connections) t.join();
}

// ---- HttpSink --------------------------------------------------------------------------------------

struct HttpSink::State {
  int token_lifetime = 3600;
  std::atomic<int> token_requests{0};
  mutable std::mutex mutex;
  std::vector<SinkRequest> requests;
};

namespace {

void serve_sink_connection(HttpSink::State& state, tcp::socket& socket) {
  beast::flat_buffer buffer;
  std::vector<char> chunk(64 * 1024);
  for (;;) {
    boost::system::error_code ec;
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(socket, buffer, parser, ec);
    if (ec) return;
    SinkRequest request;
    const auto& header = parser.get();
    request.method = std::string(header.method_string());
    request.target = std::string(header.target());
    for (const auto& field : header) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto& value = request.headers[name];
      if (!value.empty()) value += ", ";
      value += std::string(field.value());
    }
    Sha256 digest;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      http::read(socket, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return;
      const std::size_t n = chunk.size() - parser.get().body().size;
      digest.update(chunk.data(), n);
      if (request.body.size() < 64 * 1024)
        request.body.append(chunk.data(), std::min(n, 64 * 1024 - request.body.size()));
      request.body_size += n;
    }
    request.body_sha256 = digest.hex();

    http::response<http::string_body> response{http::status::ok, 11};
    if (request.method == "POST" && request.target == "/token") {
      const int n = ++state.token_requests;
      response.set(http::field::content_type, "application/json");
      response.body() =
          "{\"access_token\":\"token-" + std::to_string(n) +
          "\",\"token_type\":\"Bearer\",\"expires_in\":" + std::to_string(state.token_lifetime) + "}";
    } else {
      response.set(http::field::content_type, "text/plain");
      response.body() = "size=" + std::to_string(request.body_size) + " sha256=" + request.body_sha256 + "\n";
    }
    const bool keep_alive = parser.keep_alive();
    response.keep_alive(keep_alive);
    response.prepare_payload();
    {
      std::lock_guard lock(state.mutex);
      state.requests.push_back(std::move(request));
    }
    http::write(socket, response, ec);
    if (ec || !keep_alive) return;
  }
}

std::shared_ptr<HttpSink::State> sink_state(int token_lifetime) {
  auto state = std::make_shared<HttpSink::State>();
  state->token_lifetime = token_lifetime;
  return state;
}

}  // namespace

HttpSink::HttpSink(int token_lifetime_seconds)
    : state_(sink_state(token_lifetime_seconds)),
      server_([state = state_](tcp::socket& socket) { serve_sink_connection(*state, socket); }) {}

std::vector<SinkRequest> HttpSink::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

int HttpSink::token_requests() const {
  return state_->token_requests.load();
}

// ---- WebSocket -------------------------------------------------------------------------------------

namespace websocket = boost::beast::websocket;

WebSocketEcho::WebSocketEcho()
    : handshakes_(std::make_shared<std::atomic<int>>(0)),
      server_([handshakes = handshakes_](tcp::socket& socket) {
        websocket::stream<tcp::socket&> ws(socket);
        boost::system::error_code error;
        ws.accept(error);
        if (error) return;
        ++*handshakes;
        for (;;) {
          beast::flat_buffer message;
          ws.read(message, error);
          if (error) return;
          ws.text(ws.got_text());
          ws.write(message.data(), error);
          if (error) return;
        }
      }) {}

WebSocketResult websocket_roundtrip(std::uint16_t port, const std::string& host, const std::string& path,
                                    const std::string& message) {
  WebSocketResult result;
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    result.error = "connect: " + ec.message();
    return result;
  }
  struct timeval tv {};
  tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kGuard).count();
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  websocket::stream<tcp::socket&> ws(socket);
  websocket::response_type response;
  ws.handshake(response, host, path, ec);
  result.status = response.result_int();
  if (ec) {
    result.error = "handshake: " + ec.message();
    return result;
  }
  ws.text(true);
  ws.write(asio::buffer(message), ec);
  beast::flat_buffer answer;
  if (!ec) ws.read(answer, ec);
  if (ec) {
    result.error = "message: " + ec.message();
    return result;
  }
  result.echoed = beast::buffers_to_string(answer.data());
  ws.close(websocket::close_code::normal, ec);
  return result;
}

// ---- raw_exchange ----------------------------------------------------------------------------------

std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(bytes));
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  // The gateway answers and closes, or its read timeout does; kGuard bounds the wait regardless.
  struct timeval tv {};
  tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kGuard).count();
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char data[4096];
  for (;;) {
    const std::size_t n = socket.read_some(asio::buffer(data), ec);
    if (ec) break;
    out.append(data, n);
  }
  return out;
}

}  // namespace gw::e2e
