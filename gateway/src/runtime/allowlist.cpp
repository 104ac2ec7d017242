#include "runtime/allowlist.hpp"

#include "net/host_name.hpp"

namespace gw::runtime {

Allowlist::Allowlist(std::vector<std::unique_ptr<SystemRoute>> systems) : systems_(std::move(systems)) {
  for (const auto& system : systems_)
    by_host_[net::canonical_host(system->system.virtual_host)].push_back(system.get());
}

Allowlist::Decision Allowlist::decide(std::string_view host, std::uint16_t port,
                                      std::string_view route_type) const {
  Decision decision;
  const std::string target = std::string(host) + ":" + std::to_string(port);
  auto it = by_host_.find(net::canonical_host(host));
  if (it != by_host_.end()) {
    for (SystemRoute* route : it->second) {
      const System& s = route->system;
      if (port < s.virtual_port_first || port > s.virtual_port_last) continue;
      if (!s.enabled) {
        decision.reason = "system " + target + " is disabled";
      } else if (s.route_type != route_type) {
        decision.reason =
            "system " + target + " serves route type " + s.route_type + ", not " + std::string(route_type);
      } else {
        decision.system = route;
      }
      return decision;
    }
  }
  decision.reason = "no system for " + target + " on the allowlist";
  return decision;
}

void Allowlist::carry_counts(std::vector<std::unique_ptr<SystemRoute>>& systems) const {
  for (auto& fresh : systems) {
    const System& f = fresh->system;
    auto it = by_host_.find(net::canonical_host(f.virtual_host));
    if (it == by_host_.end()) continue;
    for (const SystemRoute* old : it->second) {
      const System& o = old->system;
      if (o.virtual_port_first == f.virtual_port_first && o.virtual_port_last == f.virtual_port_last &&
          o.route_type == f.route_type) {
        fresh->connections = old->connections;
        break;
      }
    }
  }
}

}  // namespace gw::runtime
