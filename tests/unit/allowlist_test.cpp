// The connector's allowlist: deny by default, the reasons it gives, and how a reload's new allowlist
// keeps counting the streams the old one admitted.
#include <gtest/gtest.h>

#include "runtime/allowlist.hpp"

using namespace gw;
using namespace gw::runtime;

namespace {

std::unique_ptr<SystemRoute> system(std::string host, std::uint16_t first, std::uint16_t last,
                                    std::string route_type = "tcp", bool enabled = true) {
  auto route = std::make_unique<SystemRoute>();
  route->system.virtual_host = std::move(host);
  route->system.virtual_port_first = first;
  route->system.virtual_port_last = last;
  route->system.route_type = std::move(route_type);
  route->system.enabled = enabled;
  return route;
}

Allowlist allowlist_of(std::vector<std::unique_ptr<SystemRoute>> systems) {
  return Allowlist(std::move(systems));
}

TEST(Allowlist, AdmitsOnlyAnEnabledSystemOfTheRequestedRouteType) {
  std::vector<std::unique_ptr<SystemRoute>> systems;
  systems.push_back(system("erp.corp", 3300, 3310));
  systems.push_back(system("web.corp", 80, 80, "http"));
  systems.push_back(system("old.corp", 22, 22, "tcp", false));
  const Allowlist list(std::move(systems));

  auto admitted = list.decide("ERP.corp.", 3305, "tcp");
  ASSERT_TRUE(admitted) << admitted.reason;
  EXPECT_EQ(admitted.system->system.virtual_host, "erp.corp");

  EXPECT_EQ(list.decide("erp.corp", 3311, "tcp").reason, "no system for erp.corp:3311 on the allowlist");
  EXPECT_EQ(list.decide("nothing.corp", 80, "tcp").reason, "no system for nothing.corp:80 on the allowlist");
  EXPECT_EQ(list.decide("web.corp", 80, "tcp").reason, "system web.corp:80 serves route type http, not tcp");
  EXPECT_EQ(list.decide("old.corp", 22, "tcp").reason, "system old.corp:22 is disabled");
  EXPECT_FALSE(list.decide("old.corp", 22, "tcp"));
}

TEST(Allowlist, ASystemKeptByAReloadKeepsCountingTheStreamsOpenBeforeIt) {
  std::vector<std::unique_ptr<SystemRoute>> before;
  before.push_back(system("erp.corp", 3300, 3310));
  before.push_back(system("web.corp", 80, 80, "http"));
  const Allowlist old_list(std::move(before));
  auto erp = old_list.decide("erp.corp", 3300, "tcp");
  ASSERT_TRUE(erp);
  erp.system->connections->store(7);

  std::vector<std::unique_ptr<SystemRoute>> after;
  after.push_back(system("Erp.Corp", 3300, 3310));     // the same system, spelled otherwise
  after.push_back(system("web.corp", 80, 80, "tcp"));  // another route type: another system
  after.push_back(system("erp.corp", 3300, 3320));     // other ports: another system
  old_list.carry_counts(after);
  EXPECT_EQ(after[0]->connections, erp.system->connections);
  EXPECT_EQ(after[0]->connections->load(), 7u);
  EXPECT_EQ(after[1]->connections->load(), 0u);
  EXPECT_EQ(after[2]->connections->load(), 0u);
  EXPECT_NE(after[2]->connections, erp.system->connections);

  const Allowlist new_list = allowlist_of(std::move(after));
  auto again = new_list.decide("erp.corp", 3301, "tcp");
  ASSERT_TRUE(again);
  again.system->connections->fetch_sub(1);
  EXPECT_EQ(erp.system->connections->load(), 6u) << "one count for both allowlists";
}

}  // namespace
