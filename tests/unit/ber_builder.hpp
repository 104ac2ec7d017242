// LDAP messages and control values built with liblber's ber_printf, as a client or server library
// would build them, for the codec and policy tests.
#pragma once

#include <gtest/gtest.h>
#include <lber.h>

#include <cstddef>

#include "ldap_codec.hpp"

namespace gw::ldap::test {

// ber_printf's varargs want exactly these types.
inline ber_tag_t tag(unsigned value) {
  return static_cast<ber_tag_t>(value);
}
inline ber_int_t num(int value) {
  return static_cast<ber_int_t>(value);
}
inline ber_len_t len(std::size_t value) {
  return static_cast<ber_len_t>(value);
}

// The bytes written to `ber`, which is freed.
inline Bytes flatten(BerElement* ber) {
  berval bv{};
  EXPECT_EQ(ber_flatten2(ber, &bv, 0), 0);
  Bytes out(reinterpret_cast<const std::uint8_t*>(bv.bv_val),
            reinterpret_cast<const std::uint8_t*>(bv.bv_val) + bv.bv_len);
  ber_free(ber, 1);
  return out;
}

// One element (a whole message, or a control's value) written by ber_printf.
template <typename... Args>
Bytes ber(const char* format, Args... args) {
  BerElement* element = ber_alloc_t(LBER_USE_DER);
  EXPECT_NE(ber_printf(element, format, args...), -1) << format;
  return flatten(element);
}

}  // namespace gw::ldap::test
