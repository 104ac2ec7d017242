// Everything a plugin includes: the plugin API.
#pragma once

#include "gateway/plugin/abi.hpp"
#include "gateway/plugin/authority.hpp"
#include "gateway/plugin/close_gently.hpp"
#include "gateway/plugin/deadline.hpp"
#include "gateway/plugin/host.hpp"
#include "gateway/plugin/plugin.hpp"
#include "gateway/plugin/route.hpp"
#include "gateway/plugin/stream.hpp"
#include "gateway/plugin/tunnel.hpp"
#include "gateway/plugin/watchdog.hpp"
