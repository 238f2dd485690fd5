/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_CURVE25519_H
#define WG_CURVE25519_H

#include <stdbool.h>
#include <stdint.h>

/*
 * X25519 (RFC 7748): out = scalar * point, the scalar clamped as the RFC
 * says.  False when libcrypto fails, or the point has a low order.
 */
bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
/* Public key for a private key: scalar * 9.  False only when out of memory. */
bool x25519_public(uint8_t pub[32], const uint8_t priv[32]);
/* Clamp a random 32-byte string into a valid private key. */
void x25519_clamp(uint8_t key[32]);

#endif
