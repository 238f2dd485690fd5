/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device's directory: which peer a public key belongs to, and what a
 * 32-bit index in an incoming message names.
 *
 * Both are resizable RCU hash tables (lib/rhashtable): they cost a few
 * buckets on a device with one peer and keep chains short at a million,
 * and a lookup that races with a move of its entry restarts instead of
 * missing it.
 */
#ifndef _WG_PEERLOOKUP_H
#define _WG_PEERLOOKUP_H

#include <linux/rhashtable-types.h>
#include <linux/types.h>
#include <crypto/curve25519.h>

struct wg_peer;

/* What an index can name; lookups say which kinds they accept. */
enum wg_index_kind {
	WG_INDEX_HANDSHAKE = 1U << 0,	/* a handshake we sent, in flight */
	WG_INDEX_SESSION = 1U << 1,	/* a keypair */
};

/*
 * An index we handed out, embedded in what it names.  Its owner serializes
 * wg_index_assign() and wg_index_transfer() (the handshake's lock); a
 * release may come from anywhere, and only the first one counts.
 */
struct wg_index {
	struct rhash_head node;
	__le32 id;
	u8 kind;
	unsigned int listed;	/* in the table; bool-like, for xchg() */
	struct wg_peer *peer;
};

struct wg_directory {
	struct rhashtable peers;	/* struct wg_peer by public key */
	struct rhashtable indices;	/* struct wg_index by id */
};

struct wg_directory *wg_directory_create(void);
/* Once every peer and index is out of it and no lookup can run. */
void wg_directory_destroy(struct wg_directory *dir);

/* -EEXIST if a peer with that key is there already. */
int wg_directory_add_peer(struct wg_directory *dir, struct wg_peer *peer);
void wg_directory_remove_peer(struct wg_directory *dir, struct wg_peer *peer);
/* The peer with that key, with a reference, or NULL. */
struct wg_peer *wg_directory_find_peer(struct wg_directory *dir,
				       const u8 public_key[CURVE25519_KEY_SIZE]);

/*
 * Lists @index under a fresh random id (unlisting its old one first).
 * Returns 0, or a negative errno when the table cannot grow.
 */
int wg_index_assign(struct wg_directory *dir, struct wg_index *index);
/* @to takes over @from's id and place; false if @from was not listed. */
bool wg_index_transfer(struct wg_directory *dir, struct wg_index *from,
		       struct wg_index *to);
void wg_index_release(struct wg_directory *dir, struct wg_index *index);
/*
 * The index listed under @id if its kind is in @kinds, with a reference on
 * its peer in *@peer; NULL (and *@peer NULL) otherwise.  Under RCU.
 */
struct wg_index *wg_index_find(struct wg_directory *dir, __le32 id,
			       unsigned int kinds, struct wg_peer **peer);

#endif /* _WG_PEERLOOKUP_H */
