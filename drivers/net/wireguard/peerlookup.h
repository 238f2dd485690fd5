/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Finding a device's peers by public key.
 */
#ifndef _WG_PEERLOOKUP_H
#define _WG_PEERLOOKUP_H

#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/siphash.h>

#include "noise.h"

struct wg_peer;

struct pubkey_hashtable {
	/* Sized for ten thousands of peers at a few per bucket. */
	DECLARE_HASHTABLE(hashtable, 13);
	siphash_key_t key;
	/* Serializes writers; readers use RCU. */
	struct mutex lock;
};

struct pubkey_hashtable *wg_pubkey_hashtable_alloc(void);
void wg_pubkey_hashtable_free(struct pubkey_hashtable *table);
void wg_pubkey_hashtable_add(struct pubkey_hashtable *table,
			     struct wg_peer *peer);
void wg_pubkey_hashtable_remove(struct pubkey_hashtable *table,
				struct wg_peer *peer);
/* The peer with that key, referenced, or NULL. */
struct wg_peer *wg_pubkey_hashtable_lookup(struct pubkey_hashtable *table,
					   const u8 pubkey[NOISE_PUBLIC_KEY_LEN]);

#endif /* _WG_PEERLOOKUP_H */
