// HTTP peers for the end-to-end tests: a real nginx started by the test, and an HTTP server in the test
// process that digests request bodies (and can act as an OAuth2 token endpoint), both on 127.0.0.1.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/gateway_process.hpp"
#include "support/temp_dir.hpp"

namespace gw::e2e {

// A port that was free a moment ago (for servers that cannot be told to pick one and report it).
std::uint16_t free_port();

// nginx 1.22 in the foreground on 127.0.0.1:port(), serving files under root(). The access log records
// one line per request: "<connection serial> <request line> <status> host=<Host> auth=<Authorization>
// xfh=<X-Forwarded-Host>". Locations: /echo-headers answers those three headers and the query as text;
// /redirect answers 302 to http://127.0.0.1:PORT/allowed/x.txt. With `tls`, it speaks only HTTPS with
// the given certificate and key files.
class Nginx {
 public:
  struct Tls {
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
  };
  explicit Nginx(std::optional<Tls> tls = std::nullopt);
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& root() const { return root_; }
  // Writes a file under root() (directories created).
  void put_file(const std::string& path, const std::string& content);
  // The access log lines so far.
  std::vector<std::string> access_log() const;
  // The access log lines once `ready` holds for them, or as they are when the guard runs out. nginx
  // writes a request's line after its response, so a client that has its answer may not find the
  // line yet.
  std::vector<std::string> access_log_when(
      const std::function<bool(const std::vector<std::string>&)>& ready) const;
  // ... once there are at least `lines` lines.
  std::vector<std::string> access_log_with(std::size_t lines) const;

 private:
  TempDir dir_;
  std::filesystem::path root_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// A TCP server on 127.0.0.1 (an ephemeral port) that runs `serve` on a thread of its own for every
// connection. Destruction closes the listener, shuts every connection down and joins the threads.
class ThreadedServer {
 public:
  explicit ThreadedServer(std::function<void(boost::asio::ip::tcp::socket&)> serve);
  ~ThreadedServer();
  ThreadedServer(const ThreadedServer&) = delete;
  ThreadedServer& operator=(const ThreadedServer&) = delete;
  std::uint16_t port() const { return port_; }

  struct State;  // shared with the connection threads

 private:
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
};

// What HttpSink received in one request.
struct SinkRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
  std::uint64_t body_size = 0;
  std::string body_sha256;
  std::string body;  // the first 64 KiB
};

// An HTTP/1.1 server in the test process (Boost.Beast, a thread per connection), keep-alive. Every
// request is answered 200 with "size=<body bytes> sha256=<hex>\n", and recorded. POST /token answers as
// an OAuth2 token endpoint: {"access_token":"token-<n>","token_type":"Bearer","expires_in":<lifetime>},
// n counting the token requests from 1.
class HttpSink {
 public:
  explicit HttpSink(int token_lifetime_seconds = 3600);
  HttpSink(const HttpSink&) = delete;
  HttpSink& operator=(const HttpSink&) = delete;

  std::uint16_t port() const { return server_.port(); }
  std::vector<SinkRequest> requests() const;
  int token_requests() const;

  struct State;  // shared with the connection threads

 private:
  std::shared_ptr<State> state_;
  ThreadedServer server_;  // after state_: its threads use the state until it is destroyed
};

// A WebSocket server (Boost.Beast, a thread per connection) that accepts the handshake on any path
// and echoes every message.
class WebSocketEcho {
 public:
  WebSocketEcho();
  WebSocketEcho(const WebSocketEcho&) = delete;
  WebSocketEcho& operator=(const WebSocketEcho&) = delete;
  std::uint16_t port() const { return server_.port(); }
  int handshakes() const { return handshakes_->load(); }

 private:
  std::shared_ptr<std::atomic<int>> handshakes_;
  ThreadedServer server_;
};

// A WebSocket client (Boost.Beast) through 127.0.0.1:port: handshake for `path` with Host `host`,
// then one text message and its answer. `status` is 101 after a successful handshake (Beast does not
// report the status of a declined one: use raw_exchange for those).
struct WebSocketResult {
  int status = 0;
  std::string echoed;
  std::string error;
};
WebSocketResult websocket_roundtrip(std::uint16_t port, const std::string& host, const std::string& path,
                                    const std::string& message);

// Sends raw bytes to 127.0.0.1:port, half-closes, and returns everything received until the peer
// closed (or kGuard passed).
std::string raw_exchange(std::uint16_t port, const std::string& bytes);

}  // namespace gw::e2e
