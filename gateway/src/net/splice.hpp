// The splice behind Host::splice(): copies both directions between two streams concurrently.
#pragma once

#include "gateway/plugin/host.hpp"

namespace gw::net {

// `options` is taken by value: the coroutine outlives the caller's expression.
asio::awaitable<SpliceResult> splice(Stream& a, Stream& b, SpliceOptions options);

}  // namespace gw::net
