// The connector's allowlist: finds the system for a virtual host:port. Deny by default: a request
// that matches no system, or a disabled one, or asks for another route type, is refused.
//
// An allowlist owns its systems (and so their handlers) and never changes: a reload builds a new one,
// and each stream keeps the allowlist that admitted it until it ends.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/routes.hpp"

namespace gw::runtime {

class Allowlist {
 public:
  explicit Allowlist(std::vector<std::unique_ptr<SystemRoute>> systems);

  std::size_t size() const noexcept { return systems_.size(); }

  struct Decision {
    SystemRoute* system = nullptr;  // set when allowed
    std::string reason;             // why not, when denied
    explicit operator bool() const noexcept { return system != nullptr; }
  };
  // `host` is compared in canonical form (net/host_name.hpp); `route_type` must equal the system's.
  Decision decide(std::string_view host, std::uint16_t port, std::string_view route_type) const;

  // For a reload: each of `systems` that has the virtual host, ports and route type of one here takes
  // its count of open streams, so that max_connections counts the streams of both allowlists.
  void carry_counts(std::vector<std::unique_ptr<SystemRoute>>& systems) const;

 private:
  std::vector<std::unique_ptr<SystemRoute>> systems_;
  std::unordered_map<std::string, std::vector<SystemRoute*>> by_host_;  // lower-case virtual host
};

}  // namespace gw::runtime
