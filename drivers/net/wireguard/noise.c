// SPDX-License-Identifier: GPL-2.0
/*
 * Noise_IKpsk2 key material: the static identity of a device.
 */
#include <linux/string.h>

#include "noise.h"

void wg_noise_static_identity_init(struct noise_static_identity *identity)
{
	memset(identity, 0, sizeof(*identity));
	init_rwsem(&identity->lock);
}

/*
 * An all-zero key clears the identity: curve25519_generate_public() refuses
 * it, and a device without identity neither answers nor starts handshakes.
 */
void wg_noise_set_static_identity_private_key(struct noise_static_identity *identity,
					      const u8 private_key[NOISE_PUBLIC_KEY_LEN])
{
	down_write(&identity->lock);
	memcpy(identity->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
	curve25519_clamp_secret(identity->static_private);
	/* From the key as given: clamping would make an all-zero key valid. */
	identity->has_identity =
		curve25519_generate_public(identity->static_public, private_key);
	if (!identity->has_identity) {
		memzero_explicit(identity->static_private, NOISE_PUBLIC_KEY_LEN);
		memset(identity->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	}
	up_write(&identity->lock);
}

void wg_noise_static_identity_clear(struct noise_static_identity *identity)
{
	down_write(&identity->lock);
	memzero_explicit(identity->static_private, NOISE_PUBLIC_KEY_LEN);
	memset(identity->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	identity->has_identity = false;
	up_write(&identity->lock);
}
