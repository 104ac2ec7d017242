#include "health_check.hpp"

#include <ldap.h>
#include <netdb.h>
#include <openldap.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace gw::ldap {

namespace {

struct LdapHandle {
  LDAP* ld = nullptr;
  ~LdapHandle() {
    if (ld) ldap_unbind_ext_s(ld, nullptr, nullptr);
  }
};

std::string describe(LDAP* ld, int rc) {
  std::string text = ldap_err2string(rc);
  char* diagnostic = nullptr;
  if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS && diagnostic) {
    if (*diagnostic) text += std::string(" (") + diagnostic + ")";
    ldap_memfree(diagnostic);
  }
  return text + " [" + std::to_string(rc) + "]";
}

timeval to_timeval(std::chrono::milliseconds timeout) {
  const auto ms = std::max<std::int64_t>(timeout.count(), 1);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// A blocking TCP connection to host:port, trying each address; the timeout bounds each connect (and
// later sends). Returns the socket, or -1 with `error` set.
int connect_to(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
               std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (gai != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(gai);
    return -1;
  }
  const timeval send_timeout = to_timeval(timeout);
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);  // bounds connect()
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      const int failure = errno;
      error = "cannot connect to " + host + ":" + std::to_string(port) + ": " +
              (failure == EINPROGRESS ? std::string("timed out") : std::strerror(failure));
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addresses);
  return fd;
}

}  // namespace

std::string check_directory(const HealthTarget& target) {
  // The gateway connects the socket itself and names the directory to libldap by the TLS server name
  // (ldap_init_fd), so that SNI and certificate verification use tls.server_name as the data path does.
  const std::string& name = target.tls.server_name.empty() ? target.host : target.tls.server_name;
  const bool v6 = name.find(':') != std::string::npos;
  const std::string url = std::string(target.ldaps ? "ldaps://" : "ldap://") + (v6 ? "[" : "") + name +
                          (v6 ? "]" : "") + ":" + std::to_string(target.port);
  std::string connect_error;
  const int fd = connect_to(target.host, target.port, target.timeout, connect_error);
  if (fd < 0) return connect_error;
  LdapHandle handle;
  int rc = ldap_init_fd(fd, LDAP_PROTO_TCP, url.c_str(), &handle.ld);
  if (rc != LDAP_SUCCESS) {
    close(fd);
    return "cannot use " + url + ": " + describe(nullptr, rc);
  }
  LDAP* ld = handle.ld;  // owns the socket from here

  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  timeval timeout = to_timeval(target.timeout);
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout);

  if (target.ldaps || target.starttls) {
    int require = target.tls.verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (!target.tls.ca_file.empty())
      ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, target.tls.ca_file.c_str());
    if (!target.tls.cert_file.empty()) {
      ldap_set_option(ld, LDAP_OPT_X_TLS_CERTFILE, target.tls.cert_file.c_str());
      ldap_set_option(ld, LDAP_OPT_X_TLS_KEYFILE, target.tls.key_file.c_str());
    }
    int is_server = 0;
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
    if (rc != LDAP_OPT_SUCCESS) return "TLS set-up for " + url + " failed: " + describe(ld, rc);
  }
  if (target.ldaps) {
    rc = ldap_install_tls(ld);
    if (rc != LDAP_SUCCESS) return "TLS with " + url + " failed: " + describe(ld, rc);
  }
  if (target.starttls) {
    rc = ldap_start_tls_s(ld, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) return "StartTLS with " + url + " failed: " + describe(ld, rc);
  }
  berval credentials{static_cast<ber_len_t>(target.password.size()),
                     const_cast<char*>(target.password.data())};
  rc =
      ldap_sasl_bind_s(ld, target.bind_dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
  if (rc != LDAP_SUCCESS) {
    return "bind to " + url + (target.bind_dn.empty() ? " (anonymous)" : " as " + target.bind_dn) +
           " failed: " + describe(ld, rc);
  }
  return {};
}

HealthChecker::Registration::~Registration() {
  checker_->remove(id_);
}

HealthChecker::~HealthChecker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<HealthChecker::Registration> HealthChecker::add(HealthTarget target) {
  auto& metrics = host_.metrics();
  const MetricLabels labels{{"system", target.system}};
  Entry entry{
      0,
      std::move(target),
      std::chrono::steady_clock::now(),
      &metrics.gauge("gateway_ldap_up", "Whether the last health check of the directory succeeded", labels),
      &metrics.counter("gateway_ldap_health_checks_total", "Health checks of directories",
                       {labels[0], {"outcome", "ok"}}),
      &metrics.counter("gateway_ldap_health_checks_total", "Health checks of directories",
                       {labels[0], {"outcome", "failed"}})};
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = entry.id = next_id_++;
    entries_.push_back(std::move(entry));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  changed_.notify_all();
  return std::make_unique<Registration>(*this, id);
}

void HealthChecker::remove(std::uint64_t id) {
  // Never waits for a check in progress (which takes up to the connect timeout): a handler is removed
  // on a worker thread when a reload replaces it. That check finds its entry gone and reports nothing.
  std::lock_guard lock(mutex_);
  entries_.remove_if([id](const Entry& e) { return e.id == id; });
  changed_.notify_all();
}

void HealthChecker::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto next = std::min_element(entries_.begin(), entries_.end(),
                                 [](const Entry& a, const Entry& b) { return a.due < b.due; });
    if (next == entries_.end()) {
      changed_.wait(lock);
      continue;
    }
    if (const auto due = next->due; std::chrono::steady_clock::now() < due) {
      // A copy: remove() may erase the entry while this waits.
      changed_.wait_until(lock, due);
      continue;
    }
    const HealthTarget target = next->target;
    const std::uint64_t id = next->id;
    lock.unlock();
    const std::string failure = check_directory(target);
    lock.lock();
    auto entry = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
    if (entry != entries_.end()) {
      const int state = failure.empty() ? 1 : 0;
      (failure.empty() ? entry->ok : entry->failed)->add();
      entry->up->set(state);
      if (state != entry->state) {
        entry->state = state;
        if (failure.empty()) {
          host_.logger().log(LogLevel::info, "ldap.health", {{"system", target.system}, {"state", "up"}});
        } else {
          host_.logger().log(LogLevel::warn, "ldap.health",
                             {{"system", target.system}, {"state", "down"}, {"reason", failure}});
        }
      }
      entry->due = std::chrono::steady_clock::now() + target.interval;
    }
    changed_.notify_all();
  }
}

}  // namespace gw::ldap
