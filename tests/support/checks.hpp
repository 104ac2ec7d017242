// Assertions shared by the end-to-end tests.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "support/client.hpp"
#include "support/peers.hpp"
#include "support/transfer.hpp"

namespace gw::e2e {

// True for the ways a connection can be ended by the other side: in order (eof) or by a reset.
inline bool is_closed(End end) {
  return end == End::eof || end == End::reset;
}

// Sends `payload` and receives exactly the same bytes back.
::testing::AssertionResult echoes(TcpClient& client, std::string_view payload);

// The peer ends the connection without sending anything (and before the guard expires).
::testing::AssertionResult closed_without_data(TcpClient& client);

// A whole EchoTransfer of `size` bytes through to `echo` (the only connection it served) came back
// intact: every byte sent reached the echo server, and every byte it sent back reached the client
// (SHA-256 both ways), with a clean end of stream.
void expect_echoed_intact(const EchoTransfer::Result& result, EchoServer& echo, std::size_t size);

}  // namespace gw::e2e
