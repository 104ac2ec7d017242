#include "health_check.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <algorithm>

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

}  // namespace

std::string check_directory(const HealthTarget& target) {
  const bool v6 = target.host.find(':') != std::string::npos;
  const std::string url = std::string(target.ldaps ? "ldaps://" : "ldap://") + (v6 ? "[" : "") + target.host +
                          (v6 ? "]" : "") + ":" + std::to_string(target.port);
  LdapHandle handle;
  int rc = ldap_initialize(&handle.ld, url.c_str());
  if (rc != LDAP_SUCCESS) return "cannot use " + url + ": " + describe(nullptr, rc);
  LDAP* ld = handle.ld;

  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  const auto ms = std::max<std::int64_t>(target.timeout.count(), 1);
  timeval timeout{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
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
  std::unique_lock lock(mutex_);
  entries_.remove_if([id](const Entry& e) { return e.id == id; });
  // The entry's gauge and counters live in the host's registry; only the check in progress may still
  // report on it, so wait for that one.
  changed_.wait(lock, [&] { return running_id_ != id; });
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
    if (std::chrono::steady_clock::now() < next->due) {
      changed_.wait_until(lock, next->due);
      continue;
    }
    const HealthTarget target = next->target;
    const std::uint64_t id = running_id_ = next->id;
    lock.unlock();
    const std::string failure = check_directory(target);
    lock.lock();
    running_id_ = 0;
    auto entry = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
    if (entry != entries_.end()) {
      const int state = failure.empty() ? 1 : 0;
      (failure.empty() ? entry->ok : entry->failed)->add();
      entry->up->add(state - entry->up->value());
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
