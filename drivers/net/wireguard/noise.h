/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Noise_IKpsk2 key material.  For now only the static identity of a device;
 * the handshake state machine joins it with the tunnel.
 */
#ifndef _WG_NOISE_H
#define _WG_NOISE_H

#include <linux/rwsem.h>
#include <linux/types.h>
#include <crypto/curve25519.h>

#define NOISE_PUBLIC_KEY_LEN CURVE25519_KEY_SIZE
#define NOISE_SYMMETRIC_KEY_LEN 32

struct noise_static_identity {
	u8 static_public[NOISE_PUBLIC_KEY_LEN];
	u8 static_private[NOISE_PUBLIC_KEY_LEN];
	struct rw_semaphore lock;
	bool has_identity;
};

void wg_noise_static_identity_init(struct noise_static_identity *identity);
void wg_noise_set_static_identity_private_key(struct noise_static_identity *identity,
					      const u8 private_key[NOISE_PUBLIC_KEY_LEN]);
void wg_noise_static_identity_clear(struct noise_static_identity *identity);

#endif /* _WG_NOISE_H */
