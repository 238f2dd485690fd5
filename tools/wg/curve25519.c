// SPDX-License-Identifier: GPL-2.0
/*
 * X25519 for `wg pubkey', `wg genkey' and the keys wg derives, from
 * OpenSSL's libcrypto: we write no cryptographic primitive of our own.
 */
#include <openssl/evp.h>
#include "curve25519.h"

bool x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32])
{
	EVP_PKEY *priv, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	bool ok = false;

	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, scalar, 32);
	if (priv)
		peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, 32);
	if (peer)
		ctx = EVP_PKEY_CTX_new(priv, NULL);
	/* libcrypto refuses a low-order point (an all-zero result) here. */
	if (ctx && EVP_PKEY_derive_init(ctx) == 1 &&
	    EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
	    EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32)
		ok = true;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(priv);
	return ok;
}

bool x25519_public(uint8_t pub[32], const uint8_t priv[32])
{
	EVP_PKEY *key;
	size_t len = 32;
	bool ok;

	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	if (!key)
		return false;
	ok = EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == 32;
	EVP_PKEY_free(key);
	return ok;
}

void x25519_clamp(uint8_t key[32])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}
