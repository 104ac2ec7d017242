// The http route type end to end: gatewayd as a child process, nginx (plain and TLS) and an HTTP server
// in the test process as targets, curl and raw sockets as clients. Internet destinations go straight
// to the target; on-premise ones go through a standalone gateway's in-process tunnel to its connector,
// which enforces the system's resources.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/digest.hpp"
#include "support/gateway_process.hpp"
#include "support/http_peers.hpp"
#include "support/metrics.hpp"
#include "support/peers.hpp"
#include "support/poll.hpp"
#include "support/record.hpp"
#include "support/socks_client.hpp"
#include "support/tls_peer.hpp"
#include "support/tunnel_pair.hpp"

namespace gw::e2e {
namespace {

std::string url(std::uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

// curl -sS with the given extra arguments; the output is the response body (or headers with -i).
CommandResult curl(std::vector<std::string> args) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "20"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::size_t count_containing(const std::vector<std::string>& lines, const std::string& text) {
  std::size_t n = 0;
  for (const auto& line : lines) n += line.find(text) != std::string::npos;
  return n;
}

// An edge gateway with one http destination straight to `address` (an Internet destination).
std::string internet_edge(const std::string& address, const std::string& settings,
                          const std::string& tls = "") {
  std::string yaml = R"(node: {name: edge, role: edge}
log: {level: info, format: text}
audit: {level: all, file: audit.log}
admin: {listen: 127.0.0.1:0}
destinations:
  - name: api
    route_type: http
    address: )" + address +
                     R"(
    entry_point: {listen: 127.0.0.1:0}
    settings: )" + settings +
                     "\n";
  if (!tls.empty()) yaml += "    tls: " + tls + "\n";
  return yaml;
}

// A standalone gateway: destination `web` (on premise, tenant demo) -> system web.internal:80 ->
// 127.0.0.1:backend_port with the given system settings.
std::string on_premise(std::uint16_t backend_port, const std::string& system_settings,
                       const std::string& destination_settings = "{}") {
  return R"(node: {name: standalone, role: standalone}
log: {level: info, format: text}
audit: {level: all, file: audit.log}
admin: {listen: 127.0.0.1:0}
connector: {tenant: demo, location_id: ""}
systems:
  - virtual_host: web.internal
    virtual_port: 80
    internal_host: 127.0.0.1
    internal_port: )" +
         std::to_string(backend_port) + R"(
    route_type: http
    settings: )" +
         system_settings + R"(
destinations:
  - name: web
    route_type: http
    address: http://web.internal:80
    proxy_type: on_premise
    tenant: demo
    entry_point: {listen: 127.0.0.1:0}
    settings: )" +
         destination_settings + "\n";
}

// Ready, and the in-process connector has connected to the edge (entry points listen before that).
::testing::AssertionResult ready_with_tunnel(GatewayProcess& gateway) {
  if (auto ready = gateway.wait_ready(); !ready) return ready;
  if (!gateway.wait_for_log(log_event("connector_connected"))) {
    return ::testing::AssertionFailure() << "the connector did not connect";
  }
  return ::testing::AssertionSuccess();
}

const std::string kAllowedOnly =
    "{resources: [{path: /allowed, match: path_prefix}, {path: /redirect, match: exact}, {path: "
    "/redirect-odd, match: exact}, "
    "{path: /echo-headers, match: exact, methods: [GET]}, {path: /upload, match: exact}]}";

TEST(HttpRoute, InternetDestinationGetsCredentialsHeadersAndQueryButNoProxyHeaders) {
  HttpSink sink;
  GatewayProcess gateway(internet_edge(
      "http://127.0.0.1:" + std::to_string(sink.port()),
      "{authentication: bearer, token: tok-123, headers: [{name: x-tenant, value: acme}], query: [{name: "
      "sap-client, value: '100'}]}"));
  ASSERT_TRUE(gateway.wait_ready());

  CommandResult got = curl({"-H", "Proxy-Authorization: Basic eDp5", "-H", "X-Destination-Name: other", "-H",
                            "Authorization: Basic bm9wZQ==", "-H", "Connection: x-private", "-H",
                            "X-Private: 1", url(gateway.port("api"), "/v1/items?top=5")});
  ASSERT_TRUE(got.status && got.status->success()) << got.err;
  EXPECT_EQ(got.out, "size=0 sha256=" + sha256_hex("") + "\n");

  const auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.target, "/v1/items?top=5&sap-client=100");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer tok-123");  // the application's own is replaced
  EXPECT_EQ(r.headers.at("x-tenant"), "acme");
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(sink.port()));
  EXPECT_EQ(r.headers.count("proxy-authorization"), 0u);
  EXPECT_EQ(r.headers.count("x-destination-name"), 0u);
  EXPECT_EQ(r.headers.count("x-private"), 0u) << "a field named in Connection is hop-by-hop";

  auto audit =
      gateway.wait_for_audit(audit_event("http.request", {{"destination", "api"}, {"status", "200"}}));
  ASSERT_EQ(audit.size(), 1u);
  CommandResult metrics = curl({url(gateway.admin_port(), "/metrics")});
  EXPECT_NE(metrics.out.find("gateway_http_request_duration_seconds_count{destination=\"api\"} 1\n"),
            std::string::npos)
      << metrics.out;
  EXPECT_NE(
      metrics.out.find("gateway_http_request_duration_seconds_bucket{destination=\"api\",le=\"+Inf\"} 1\n"),
      std::string::npos);
  EXPECT_EQ(audit[0].get("method"), "GET");
  EXPECT_EQ(audit[0].line.find("tok-123"), std::string::npos) << "the audit record must not quote the token";
}

TEST(HttpRoute, BasicAuthenticationAndKeepAliveReuseOneUpstreamConnection) {
  Nginx nginx;
  GatewayProcess gateway(internet_edge("http://127.0.0.1:" + std::to_string(nginx.port()),
                                       "{authentication: basic, user: alice, password: s3cret}"));
  ASSERT_TRUE(gateway.wait_ready());
  // One curl, three requests: curl reuses its connection, and so must the gateway.
  CommandResult got =
      curl({url(gateway.port("api"), "/echo-headers"), url(gateway.port("api"), "/echo-headers"),
            url(gateway.port("api"), "/echo-headers")});
  ASSERT_TRUE(got.status && got.status->success()) << got.err;
  const std::string one =
      "host=127.0.0.1:" + std::to_string(nginx.port()) + " auth=Basic YWxpY2U6czNjcmV0 xfh= q=\n";
  EXPECT_EQ(got.out, one + one + one);
  const auto log = nginx.access_log_with(3);
  ASSERT_EQ(log.size(), 3u);
  const std::string connection = log[0].substr(0, log[0].find(' '));
  for (const auto& line : log) EXPECT_EQ(line.substr(0, line.find(' ')), connection) << line;
}

TEST(HttpRoute, ConnectorAdmitsOnlyItsResourcesAndAuditsDenials) {
  Nginx nginx;
  nginx.put_file("allowed/x.txt", "allowed file\n");
  nginx.put_file("allowedx.txt", "sibling\n");
  nginx.put_file("secret.txt", "SECRET\n");
  GatewayProcess gateway(on_premise(nginx.port(), kAllowedOnly));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const auto port = gateway.port("web");

  CommandResult allowed = curl({url(port, "/allowed/x.txt")});
  ASSERT_TRUE(allowed.status && allowed.status->success()) << allowed.err;
  EXPECT_EQ(allowed.out, "allowed file\n");
  // A request without a body travels with the stream's CONNECT: at least its request line arrived early.
  EXPECT_GT(metric_value(gateway.admin_port(), "gateway_tunnel_early_data_bytes_total", {}),
            static_cast<double>(std::string("GET /allowed/x.txt HTTP/1.1\r\n").size()));
  // A standalone gateway mints its tunnel certificates in memory, valid for years: its connector can
  // dial again however long the process runs.
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  EXPECT_GT(metric_value(gateway.admin_port(), "gateway_tunnel_certificate_expiry_timestamp_seconds", {}),
            static_cast<double>(now) + 3000 * 86400.0);

  for (const std::string path :
       {"/secret.txt", "/allowedx.txt", "/allowed/../secret.txt", "/allowed/%2e%2e/secret.txt",
        "/allowed/%2E%2E%2Fsecret.txt", "/allowed//..//secret.txt", "/allowed/.%2e/secret.txt",
        "/allowed/..;/secret.txt", "/allowed/%252e%252e/secret.txt", "/%61llowed/../secret.txt",
        "/allowed/%c0%ae%c0%ae/secret.txt", "/allowed\\..\\secret.txt"}) {
    CommandResult refused = curl({"--path-as-is", "-i", url(port, path)});
    ASSERT_TRUE(refused.status) << path;
    const std::string line = status_line(refused.out);
    EXPECT_TRUE(line == "HTTP/1.1 403 Forbidden" || line == "HTTP/1.1 400 Bad Request" ||
                line == "HTTP/1.1 404 Not Found")
        << path << ": " << line;
    EXPECT_EQ(refused.out.find("SECRET"), std::string::npos) << path;
  }
  CommandResult wrong_method = curl({"-i", "-X", "DELETE", url(port, "/echo-headers")});
  EXPECT_EQ(status_line(wrong_method.out), "HTTP/1.1 403 Forbidden");
  EXPECT_NE(wrong_method.out.find("x-error-message: method DELETE not allowed"), std::string::npos)
      << wrong_method.out;
  EXPECT_NE(wrong_method.out.find("x-request-id: "), std::string::npos);

  // The backend saw the allowed request and nothing of the refused ones. The double-encoded name is
  // forwarded as it is: below /allowed it names the literal file "%2e%2e" (nginx answers 404).
  const auto log = nginx.access_log_when([](const std::vector<std::string>& lines) {
    return count_containing(lines, "GET /allowed/%252e%252e/secret.txt") != 0;
  });
  EXPECT_EQ(count_containing(log, "GET /secret"), 0u) << ::testing::PrintToString(log);
  EXPECT_EQ(count_containing(log, ".."), 0u);
  EXPECT_EQ(count_containing(log, "%2e%2e/"), 0u);
  EXPECT_EQ(count_containing(log, "%2E%2E"), 0u);
  EXPECT_EQ(count_containing(log, "GET /allowed/%252e%252e/secret.txt HTTP/1.1 404"), 1u);
  EXPECT_EQ(count_containing(log, "allowedx"), 0u);
  EXPECT_EQ(count_containing(log, "DELETE"), 0u);

  auto denied = gateway.wait_for_audit(audit_event("http.denied", {{"target", "/secret.txt"}}));
  ASSERT_FALSE(denied.empty());
  EXPECT_EQ(denied[0].get("class"), "security");
  EXPECT_EQ(denied[0].get("reason"), "no resource matches /secret.txt");
}

TEST(HttpRoute, SmugglingAndOversizedRequestsAreRefusedBeforeTheBackend) {
  Nginx nginx;
  nginx.put_file("allowed/x.txt", "allowed file\n");
  GatewayProcess gateway(on_premise(nginx.port(), kAllowedOnly));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const auto port = gateway.port("web");
  const std::string get = "GET /allowed/x.txt HTTP/1.1\r\nHost: web\r\n";
  struct Case {
    std::string name;
    std::string bytes;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"content-length and chunked",
       "POST /allowed/x.txt HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secret HTTP/1.1\r\n\r\n",
       "400"},
      {"two content-lengths", get + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy", "400"},
      {"two equal content-lengths", get + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nxy", "400"},
      {"transfer coding other than chunked",
       "POST /allowed/x.txt HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: gzip\r\n\r\n"
       "GET /secret HTTP/1.1\r\nHost: web\r\n\r\n",
       "400"},
      {"chunked twice",
       "POST /allowed/x.txt HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
       "0\r\n\r\n",
       "400"},
      {"transfer-encoding in HTTP/1.0",
       "POST /allowed/x.txt HTTP/1.0\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
      {"obs-fold", get + "X-A: a\r\n b\r\n\r\n", "400"},
      {"bare CR", get + "X-A: a\rb\r\n\r\n", "400"},
      {"bare LF", "GET /allowed/x.txt HTTP/1.1\nHost: web\n\n", "400"},
      {"bad chunk size",
       "POST /allowed/x.txt HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", "400"},
      {"request line too long", "GET /allowed/" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: web\r\n\r\n",
       "414"},
      {"header too large", get + "X-Big: " + std::string(70 * 1024, 'b') + "\r\n\r\n", "431"},
  };
  for (const auto& c : cases) {
    const std::string response = raw_exchange(port, c.bytes);
    EXPECT_EQ(status_line(response).substr(0, 12), "HTTP/1.1 " + c.status) << c.name << ": " << response;
  }
  EXPECT_TRUE(nginx.access_log().empty()) << ::testing::PrintToString(nginx.access_log());
}

TEST(HttpRoute, BodiesStreamIntactWithEitherFramingThroughTheTunnel) {
  HttpSink sink;
  GatewayProcess gateway(on_premise(sink.port(), kAllowedOnly));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  TempDir dir;
  RandomBytes random(7);
  const std::string payload = random.next(8 << 20);
  const auto file = dir.write("payload.bin", payload);
  const std::string expected =
      "size=" + std::to_string(payload.size()) + " sha256=" + sha256_hex(payload) + "\n";

  CommandResult with_length =
      curl({"--data-binary", "@" + file.string(), url(gateway.port("web"), "/upload")});
  ASSERT_TRUE(with_length.status && with_length.status->success()) << with_length.err;
  EXPECT_EQ(with_length.out, expected);
  CommandResult chunked = curl({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file.string(),
                                url(gateway.port("web"), "/upload")});
  ASSERT_TRUE(chunked.status && chunked.status->success()) << chunked.err;
  EXPECT_EQ(chunked.out, expected);

  const auto requests = sink.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.at("content-length"), std::to_string(payload.size()));
  EXPECT_EQ(requests[1].headers.at("transfer-encoding"), "chunked");
  EXPECT_EQ(requests[1].headers.count("content-length"), 0u);
}

// Resident memory of a process in KiB (VmRSS), or 0 if it cannot be read.
std::uint64_t rss_kib(pid_t pid) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// Runs `client` to completion while sampling the gateway's RSS; returns the highest sample.
std::uint64_t peak_rss_while(ChildProcess& client, pid_t gateway) {
  std::uint64_t peak = 0;
  poll_until([&] {
    peak = std::max(peak, rss_kib(gateway));
    return !client.running();
  });
  return peak;
}

TEST(HttpRoute, OneGibibyteEachWayStreamsThroughTheTunnelInBoundedMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine: RSS says nothing about buffering";
#endif
  constexpr std::uint64_t kSize = 1ull << 30;
  // Bodies stream through fixed buffers and the tunnel's flow-control windows (1 MiB per stream, 16 MiB
  // per connection): whatever the body size, the process grows by far less than this.
  constexpr std::uint64_t kBoundKib = 96 * 1024;
  TempDir dir;
  const auto zeros = dir.path() / "zeros.bin";
  std::filesystem::resize_file(dir.write("zeros.bin", ""), kSize);  // sparse: costs no disk
  Nginx nginx;
  nginx.put_file("allowed/big.bin", "");
  std::filesystem::resize_file(nginx.root() / "allowed" / "big.bin", kSize);
  HttpSink sink;
  const std::string systems =
      "{resources: [{path: /allowed, match: path_prefix}, {path: /upload, match: exact}]}";
  GatewayProcess to_nginx(on_premise(nginx.port(), systems));
  ASSERT_TRUE(ready_with_tunnel(to_nginx));
  const std::uint64_t baseline = rss_kib(to_nginx.process().pid());

  ChildProcess download({"curl", "-sS", "--max-time", "120", "-o", "/dev/null", "-w",
                         "%{http_code} %{size_download}", url(to_nginx.port("web"), "/allowed/big.bin")});
  const std::uint64_t download_peak = peak_rss_while(download, to_nginx.process().pid());
  ASSERT_TRUE(download.wait_for_exit());
  EXPECT_EQ(download.text(Stream::out), "200 " + std::to_string(kSize) + "\n") << download.text(Stream::err);
  EXPECT_LT(download_peak, baseline + kBoundKib) << "baseline " << baseline << " KiB";

  GatewayProcess to_sink(on_premise(sink.port(), systems));
  ASSERT_TRUE(ready_with_tunnel(to_sink));
  const std::uint64_t sink_baseline = rss_kib(to_sink.process().pid());
  // -T streams the file (--data-binary would read all of it into curl's memory first).
  ChildProcess upload({"curl", "-sS", "--max-time", "120", "-H", "Transfer-Encoding: chunked", "-T",
                       zeros.string(), url(to_sink.port("web"), "/upload")});
  const std::uint64_t upload_peak = peak_rss_while(upload, to_sink.process().pid());
  ASSERT_TRUE(upload.wait_for_exit());
  Sha256 digest;
  const std::string block(1 << 20, '\0');
  for (std::uint64_t i = 0; i < kSize / block.size(); ++i) digest.update(block);
  EXPECT_EQ(upload.text(Stream::out), "size=" + std::to_string(kSize) + " sha256=" + digest.hex() + "\n")
      << upload.text(Stream::err);
  EXPECT_LT(upload_peak, sink_baseline + kBoundKib) << "baseline " << sink_baseline << " KiB";
}

TEST(HttpRoute, LocationIsMappedBackAndHostHeaderFollowsTheSystem) {
  Nginx nginx;
  {
    GatewayProcess gateway(on_premise(nginx.port(), kAllowedOnly));
    ASSERT_TRUE(ready_with_tunnel(gateway));
    CommandResult redirect = curl({"-i", url(gateway.port("web"), "/redirect")});
    EXPECT_EQ(status_line(redirect.out), "HTTP/1.1 302 Moved Temporarily");
    EXPECT_NE(redirect.out.find("Location: http://web.internal/allowed/x.txt\r\n"), std::string::npos)
        << redirect.out;
    // The scheme in any case, a fragment right after the authority, and every Location field.
    CommandResult odd = curl({"-i", url(gateway.port("web"), "/redirect-odd")});
    EXPECT_NE(odd.out.find("Location: http://web.internal#top\r\n"), std::string::npos) << odd.out;
    EXPECT_NE(odd.out.find("Location: http://other.example/x\r\n"), std::string::npos) << odd.out;
    EXPECT_EQ(odd.out.find("127.0.0.1"), std::string::npos) << odd.out;
    CommandResult virtual_host = curl({url(gateway.port("web"), "/echo-headers")});
    EXPECT_EQ(virtual_host.out, "host=web.internal auth= xfh= q=\n");
  }
  GatewayProcess internal(
      on_premise(nginx.port(), "{host_header: internal, resources: [{path: /echo-headers, match: exact}]}"));
  ASSERT_TRUE(ready_with_tunnel(internal));
  CommandResult internal_host = curl({url(internal.port("web"), "/echo-headers")});
  EXPECT_EQ(internal_host.out,
            "host=127.0.0.1:" + std::to_string(nginx.port()) + " auth= xfh=web.internal q=\n");
}

TEST(HttpRoute, HttpsInternetTargetIsVerified) {
  TestPki pki;
  Nginx nginx(Nginx::Tls{pki.server_cert_file(), pki.server_key_file()});
  const std::string address = "https://127.0.0.1:" + std::to_string(nginx.port());
  {
    GatewayProcess verified(
        internet_edge(address, "{}", "{enabled: true, ca_file: \"" + pki.ca_file().string() + "\"}"));
    ASSERT_TRUE(verified.wait_ready());
    CommandResult got = curl({url(verified.port("api"), "/echo-headers")});
    ASSERT_TRUE(got.status && got.status->success()) << got.err;
    EXPECT_EQ(got.out, "host=127.0.0.1:" + std::to_string(nginx.port()) + " auth= xfh= q=\n");
  }
  // Against the system trust store the test CA is unknown: the application gets 502 and why.
  GatewayProcess untrusted(internet_edge(address, "{}"));
  ASSERT_TRUE(untrusted.wait_ready());
  CommandResult refused = curl({"-i", url(untrusted.port("api"), "/echo-headers")});
  EXPECT_EQ(status_line(refused.out), "HTTP/1.1 502 Bad Gateway") << refused.out;
  EXPECT_NE(refused.out.find("certificate"), std::string::npos) << refused.out;
  EXPECT_EQ(nginx.access_log_with(1).size(), 1u) << ::testing::PrintToString(nginx.access_log());
}

TEST(HttpRoute, DeniedSystemAndUnreachableBackendAnswerInHttp) {
  const std::uint16_t closed_port = free_port();
  GatewayProcess gateway(on_premise(closed_port, kAllowedOnly));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  CommandResult down = curl({"-i", url(gateway.port("web"), "/allowed/x.txt")});
  EXPECT_EQ(status_line(down.out), "HTTP/1.1 502 Bad Gateway") << down.out;
  EXPECT_NE(down.out.find("x-error-message: "), std::string::npos);
}

TEST(HttpRoute, WebSocketUpgradePassesWhereTheResourceAllowsIt) {
  WebSocketEcho echo;
  GatewayProcess gateway(
      on_premise(echo.port(),
                 "{resources: [{path: /ws, match: exact, websocket: true}, {path: /plain, match: exact}]}"));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const WebSocketResult allowed =
      websocket_roundtrip(gateway.port("web"), "web.internal", "/ws", "hello through");
  EXPECT_EQ(allowed.status, 101) << allowed.error;
  EXPECT_EQ(allowed.echoed, "hello through") << allowed.error;

  const std::string denied =
      raw_exchange(gateway.port("web"),
                   "GET /plain HTTP/1.1\r\nHost: web.internal\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(status_line(denied), "HTTP/1.1 403 Forbidden") << denied;
  EXPECT_EQ(echo.handshakes(), 1) << "the refused upgrade must not reach the backend";
  auto audit = gateway.wait_for_audit(audit_event("http.denied", {{"target", "/plain"}}));
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].get("reason"), "WebSocket upgrade not allowed on /plain");
}

// ---- OAuth2 client credentials --------------------------------------------------------------------

std::string oauth2_settings(std::uint16_t token_port) {
  return "{authentication: oauth2_client_credentials, token_url: 'http://127.0.0.1:" +
         std::to_string(token_port) +
         "/token', client_id: 'app one', client_secret: 's3cret&=', scope: read}";
}

TEST(HttpOAuth2, ConcurrentRequestsShareOneCachedToken) {
  HttpSink sink;  // both the token endpoint (POST /token) and the API
  GatewayProcess gateway(
      internet_edge("http://127.0.0.1:" + std::to_string(sink.port()), oauth2_settings(sink.port())));
  ASSERT_TRUE(gateway.wait_ready());
  std::vector<std::unique_ptr<ChildProcess>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{"curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
                                 url(gateway.port("api"), "/data")}));
  }
  for (auto& client : clients) {
    ASSERT_TRUE(client->wait_for_exit());
    EXPECT_EQ(client->text(Stream::out), "200\n") << client->text(Stream::err);
  }
  EXPECT_EQ(sink.token_requests(), 1);
  std::size_t api_requests = 0;
  for (const auto& r : sink.requests()) {
    if (r.target == "/token") {
      EXPECT_EQ(r.method, "POST");
      EXPECT_EQ(r.body, "grant_type=client_credentials&scope=read");
      // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
      EXPECT_EQ(r.headers.at("authorization"), "Basic YXBwK29uZTpzM2NyZXQlMjYlM0Q=");
      EXPECT_EQ(r.headers.at("content-type"), "application/x-www-form-urlencoded");
      continue;
    }
    ++api_requests;
    EXPECT_EQ(r.headers.at("authorization"), "Bearer token-1");
  }
  EXPECT_EQ(api_requests, 20u);
  EXPECT_TRUE(gateway.audit_records().size() > 0);
  for (const auto& record : gateway.audit_records()) {
    EXPECT_EQ(record.line.find("token-1"), std::string::npos) << "a token in the audit: " << record.line;
    EXPECT_EQ(record.line.find("s3cret"), std::string::npos) << "a secret in the audit: " << record.line;
  }
}

TEST(HttpOAuth2, TokenIsRenewedBeforeItExpires) {
  HttpSink sink(1);  // tokens live one second: renewal starts 0.1 s before expiry
  GatewayProcess gateway(
      internet_edge("http://127.0.0.1:" + std::to_string(sink.port()), oauth2_settings(sink.port())));
  ASSERT_TRUE(gateway.wait_ready());
  auto last_token = [&] {
    std::string token;
    for (const auto& r : sink.requests()) {
      if (r.target != "/token") token = r.headers.at("authorization");
    }
    return token;
  };
  CommandResult first = curl({url(gateway.port("api"), "/data")});
  ASSERT_TRUE(first.status && first.status->success()) << first.err;
  EXPECT_EQ(last_token(), "Bearer token-1");
  // Requests keep flowing; a later one carries the renewed token, fetched once.
  EXPECT_TRUE(poll_until([&] {
    curl({url(gateway.port("api"), "/data")});
    return last_token() == "Bearer token-2";
  }));
  EXPECT_EQ(sink.token_requests(), 2);
}

TEST(HttpOAuth2, UnreachableTokenEndpointIsA502ThatSaysWhy) {
  HttpSink sink;
  const std::uint16_t closed = free_port();
  GatewayProcess gateway(
      internet_edge("http://127.0.0.1:" + std::to_string(sink.port()), oauth2_settings(closed)));
  ASSERT_TRUE(gateway.wait_ready());
  CommandResult got = curl({"-i", url(gateway.port("api"), "/data")});
  EXPECT_EQ(status_line(got.out), "HTTP/1.1 502 Bad Gateway");
  EXPECT_NE(got.out.find("x-error-message: cannot obtain a token for the destination"), std::string::npos)
      << got.out;
  EXPECT_TRUE(sink.requests().empty());
}

// ---- the destination lookup API ------------------------------------------------------------------

TEST(DestinationLookup, HandsOutReadyTokensOnlyToHoldersOfTheLookupToken) {
  HttpSink sink;
  std::string yaml =
      internet_edge("http://127.0.0.1:" + std::to_string(sink.port()), oauth2_settings(sink.port()));
  yaml.replace(yaml.find("admin: {listen: 127.0.0.1:0}"), std::string("admin: {listen: 127.0.0.1:0}").size(),
               "admin: {listen: 127.0.0.1:0, lookup_token: lookup-token-0123456789}");
  GatewayProcess gateway(yaml);
  ASSERT_TRUE(gateway.wait_ready());
  const std::string lookup = url(gateway.admin_port(), "/v1/destinations/api");

  CommandResult found = curl({"-H", "Authorization: Bearer lookup-token-0123456789", lookup});
  ASSERT_TRUE(found.status && found.status->success()) << found.err;
  EXPECT_NE(found.out.find("\"Name\":\"api\""), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("\"Authentication\":\"OAuth2ClientCredentials\""), std::string::npos);
  EXPECT_NE(found.out.find("\"ProxyType\":\"Internet\""), std::string::npos);
  EXPECT_NE(found.out.find("\"http_header\":{\"key\":\"Authorization\",\"value\":\"Bearer token-1\"}"),
            std::string::npos)
      << found.out;
  EXPECT_NE(found.out.find("\"expires_in\":\"3"), std::string::npos) << found.out;
  EXPECT_EQ(found.out.find("s3cret"), std::string::npos) << "the client secret must not be handed out";
  // The token is the one requests use: the cache serves both.
  CommandResult request = curl({url(gateway.port("api"), "/data")});
  EXPECT_EQ(sink.token_requests(), 1);

  CommandResult anonymous = curl({"-i", lookup});
  EXPECT_EQ(status_line(anonymous.out), "HTTP/1.1 401 Unauthorized");
  CommandResult wrong = curl({"-i", "-H", "Authorization: Bearer lookup-token-0123456780", lookup});
  EXPECT_EQ(status_line(wrong.out), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(wrong.out.find("token-1"), std::string::npos);
  CommandResult unknown = curl({"-i", "-H", "Authorization: Bearer lookup-token-0123456789",
                                url(gateway.admin_port(), "/v1/destinations/nope")});
  EXPECT_EQ(status_line(unknown.out), "HTTP/1.1 404 Not Found");
}

TEST(DestinationLookup, IsOffWithoutALookupToken) {
  HttpSink sink;
  GatewayProcess gateway(internet_edge("http://127.0.0.1:" + std::to_string(sink.port()),
                                       "{authentication: bearer, token: tok-123}"));
  ASSERT_TRUE(gateway.wait_ready());
  CommandResult off =
      curl({"-i", "-H", "Authorization: Bearer anything", url(gateway.admin_port(), "/v1/destinations/api")});
  EXPECT_EQ(status_line(off.out), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(off.out.find("tok-123"), std::string::npos);
}

// ---- the HTTP proxy entry point ------------------------------------------------------------------

const std::string kJwtSecret = "0123456789abcdef0123456789abcdef";

using gw::testing::jwt_claims;
using gw::testing::mint_hs256;

// A standalone gateway with an HTTP proxy (user app/pw of tenant demo, JWTs with audience gateway),
// the system and destination `web` of on_premise(), and a tcp system echo.internal:7 for CONNECT.
std::string proxy_config(std::uint16_t backend_port, std::uint16_t echo_port) {
  std::string yaml = on_premise(backend_port, kAllowedOnly);
  const std::string echo_system =
      "  - virtual_host: echo.internal\n    virtual_port: 7\n"
      "    internal_host: 127.0.0.1\n    internal_port: " +
      std::to_string(echo_port) + "\n    route_type: tcp\n";
  yaml.insert(yaml.find("destinations:"), echo_system);
  return yaml +
         "http_proxy:\n  listen: 127.0.0.1:0\n  auth: [password, jwt]\n  users:\n"
         "    - {username: app, password: pw, tenant: demo}\n"
         "  jwt: {algorithm: HS256, secret: " +
         kJwtSecret + ", audience: gateway}\n";
}

TEST(HttpProxy, ProxyClientsReachDestinationsByUrlByNameAndByConnect) {
  Nginx nginx;
  nginx.put_file("allowed/x.txt", "allowed file\n");
  EchoServer echo;
  GatewayProcess gateway(proxy_config(nginx.port(), echo.port()));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const std::string proxy = "http://app:pw@127.0.0.1:" + std::to_string(gateway.listener_port("http_proxy"));

  // Absolute URLs, two requests on one proxy connection.
  CommandResult by_url =
      curl({"-x", proxy, "http://web.internal/allowed/x.txt", "http://web.internal/echo-headers"});
  ASSERT_TRUE(by_url.status && by_url.status->success()) << by_url.err;
  EXPECT_EQ(by_url.out, "allowed file\nhost=web.internal auth= xfh= q=\n");
  // The connector's policy applies as for any other client.
  CommandResult denied = curl({"-i", "-x", proxy, "http://web.internal/secret.txt"});
  EXPECT_EQ(status_line(denied.out), "HTTP/1.1 403 Forbidden");
  // By name, in origin form.
  CommandResult by_name =
      curl({"-H", "X-Destination-Name: web", "-u", "x:y", "-H", "Proxy-Authorization: Basic YXBwOnB3",
            url(gateway.listener_port("http_proxy"), "/echo-headers")});
  EXPECT_EQ(by_name.out, "host=web.internal auth=Basic eDp5 xfh= q=\n")
      << "the application's own Authorization passes when the destination injects none";
  CommandResult unknown =
      curl({"-i", "-H", "X-Destination-Name: nope", "-H", "Proxy-Authorization: Basic YXBwOnB3",
            url(gateway.listener_port("http_proxy"), "/")});
  EXPECT_EQ(status_line(unknown.out), "HTTP/1.1 404 Not Found");
  // CONNECT (curl --proxytunnel), then plain HTTP through the tunnel.
  CommandResult tunnelled = curl({"-p", "-x", proxy, "http://web.internal/allowed/x.txt"});
  EXPECT_EQ(tunnelled.out, "allowed file\n") << tunnelled.err;
  // CONNECT to a virtual host without a destination is relayed as tcp.
  const std::string connect =
      "CONNECT echo.internal:7 HTTP/1.1\r\nHost: echo.internal:7\r\n"
      "Proxy-Authorization: Basic YXBwOnB3\r\n\r\nhello";
  const std::string echoed = raw_exchange(gateway.listener_port("http_proxy"), connect);
  EXPECT_EQ(echoed, "HTTP/1.1 200 Connection Established\r\n\r\nhello");
  // An https:// URL in absolute form is refused: such clients use CONNECT.
  const std::string https = raw_exchange(gateway.listener_port("http_proxy"),
                                         "GET https://web.internal/ HTTP/1.1\r\nHost: web.internal\r\n"
                                         "Proxy-Authorization: Basic YXBwOnB3\r\n\r\n");
  EXPECT_EQ(status_line(https), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(count_containing(nginx.access_log_with(1), "secret"), 0u);
}

TEST(HttpProxy, ProxyAuthorizationIsRequiredAndAudited) {
  Nginx nginx;
  nginx.put_file("allowed/x.txt", "allowed file\n");
  EchoServer echo;
  GatewayProcess gateway(proxy_config(nginx.port(), echo.port()));
  ASSERT_TRUE(ready_with_tunnel(gateway));
  const auto port = gateway.listener_port("http_proxy");

  CommandResult none =
      curl({"-i", "-x", "http://127.0.0.1:" + std::to_string(port), "http://web.internal/allowed/x.txt"});
  EXPECT_EQ(status_line(none.out), "HTTP/1.1 407 Proxy Authentication Required");
  EXPECT_NE(none.out.find("proxy-authenticate: Basic realm=\"gatewayd\""), std::string::npos) << none.out;
  CommandResult wrong = curl({"-i", "-x", "http://app:Xyzzy-wrong@127.0.0.1:" + std::to_string(port),
                              "http://web.internal/allowed/x.txt"});
  EXPECT_EQ(status_line(wrong.out), "HTTP/1.1 407 Proxy Authentication Required");
  auto refused =
      gateway.wait_for_audit(audit_event("http_proxy.authentication", {{"outcome", "refused"}}), 2);
  ASSERT_EQ(refused.size(), 2u);
  for (const auto& record : refused) EXPECT_EQ(record.line.find("Xyzzy"), std::string::npos) << record.line;

  // A bearer JWT names the tenant; its subject is the principal the connector audits.
  const std::string token =
      mint_hs256(jwt_claims("demo", "gateway", std::chrono::seconds(300), "alice"), kJwtSecret);
  CommandResult bearer = curl({"-x", "http://127.0.0.1:" + std::to_string(port), "--proxy-header",
                               "Proxy-Authorization: Bearer " + token, "http://web.internal/allowed/x.txt"});
  EXPECT_EQ(bearer.out, "allowed file\n") << bearer.err;
  auto stream = gateway.wait_for_audit(audit_event("tunnel.stream", {{"principal", "alice"}}));
  EXPECT_EQ(stream.size(), 1u);
  const std::string other_tenant = mint_hs256(jwt_claims("other", "gateway"), kJwtSecret);
  CommandResult wrong_tenant =
      curl({"-i", "-x", "http://127.0.0.1:" + std::to_string(port), "--proxy-header",
            "Proxy-Authorization: Bearer " + other_tenant, "http://web.internal/allowed/x.txt"});
  EXPECT_EQ(status_line(wrong_tenant.out), "HTTP/1.1 503 Service Unavailable") << wrong_tenant.out;
  EXPECT_EQ(count_containing(nginx.access_log_with(1), "GET"), 1u);
}

}  // namespace
}  // namespace gw::e2e
