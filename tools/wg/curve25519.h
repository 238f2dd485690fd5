/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_CURVE25519_H
#define WG_CURVE25519_H

#include <stdint.h>

/* X25519 (RFC 7748): out = scalar * point, scalar clamped as the RFC says. */
void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
/* Public key for a private key: scalar * 9. */
void x25519_public(uint8_t pub[32], const uint8_t priv[32]);
/* Clamp a random 32-byte string into a valid private key. */
void x25519_clamp(uint8_t key[32]);

#endif
