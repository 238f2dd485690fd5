// SPDX-License-Identifier: GPL-2.0
/*
 * Self-tests of the handshake: two devices with a peer each, built by hand,
 * go through initiation, response and the start of the session, and must
 * end up with the same keys crosswise.  Replays, floods, tampering and
 * wrong keys must be refused.  Included at the end of noise.c.
 */

#include <linux/delay.h>

/* One device and the one peer it knows. */
struct st_side {
	struct wg_device *wg;
	struct wg_peer *peer;
	u8 private_key[NOISE_PUBLIC_KEY_LEN];
	u8 public_key[NOISE_PUBLIC_KEY_LEN];
};

struct st_handshake {
	struct st_side a, b;
	/* Knows a as a peer, but is not who a wants to talk to. */
	struct st_side c;
	u8 psk[NOISE_SYMMETRIC_KEY_LEN];
	struct message_handshake_initiation initiation;
	struct message_handshake_response response;
};

static bool __init st_side_keys(struct st_side *side)
{
	curve25519_generate_secret(side->private_key);
	return curve25519_generate_public(side->public_key, side->private_key);
}

static bool __init st_side_init(struct st_side *side,
				const u8 peer_public[NOISE_PUBLIC_KEY_LEN],
				const u8 psk[NOISE_SYMMETRIC_KEY_LEN])
{
	struct wg_device *wg;
	struct wg_peer *peer;
	int ret;

	wg = kzalloc(sizeof(*wg), GFP_KERNEL);
	side->wg = wg;
	if (!wg)
		return false;
	wg_noise_static_identity_init(&wg->static_identity);
	mutex_init(&wg->device_update_lock);
	INIT_LIST_HEAD(&wg->peer_list);
	mutex_lock(&wg->device_update_lock);
	ret = wg_noise_change_identity(wg, side->private_key);
	mutex_unlock(&wg->device_update_lock);
	if (ret)
		return false;
	wg->directory = wg_directory_create();
	peer = kzalloc(sizeof(*peer), GFP_KERNEL);
	if (!wg->directory || !peer) {
		kfree(peer);
		return false;
	}

	/* Our reference is never dropped: peer.c must not free this one. */
	kref_init(&peer->refcount);
	peer->device = wg;
	memcpy(peer->public_key, peer_public, NOISE_PUBLIC_KEY_LEN);
	wg_noise_handshake_init(&peer->handshake, &wg->static_identity,
				peer_public, psk, peer);
	wg_noise_keypairs_init(&peer->keypairs);
	if (wg_directory_add_peer(wg->directory, peer)) {
		kfree(peer);
		return false;
	}
	side->peer = peer;
	return true;
}

/* Before any table goes: the keypairs unhash themselves from them. */
static void __init st_side_clear(struct st_side *side)
{
	if (!side->peer)
		return;
	wg_noise_handshake_clear(&side->peer->handshake);
	wg_noise_keypairs_clear(&side->peer->keypairs);
	wg_directory_remove_peer(side->wg->directory, side->peer);
}

/* After an RCU barrier: nobody looks at any of it any more. */
static void __init st_side_free(struct st_side *side)
{
	if (!side->wg)
		return;
	kfree(side->peer);
	wg_noise_static_identity_clear(&side->wg->static_identity);
	wg_directory_destroy(side->wg->directory);
	kfree(side->wg);
	memzero_explicit(side->private_key, NOISE_PUBLIC_KEY_LEN);
}

static struct noise_keypair * __init st_keypair(struct st_side *side,
						struct noise_keypair __rcu **slot)
{
	/* The test is the only writer, and nothing frees under it. */
	return rcu_dereference_protected(*slot, true);
}

static struct noise_keypair * __init st_current(struct st_side *side)
{
	return st_keypair(side, &side->peer->keypairs.current_keypair);
}

static struct noise_keypair * __init st_previous(struct st_side *side)
{
	return st_keypair(side, &side->peer->keypairs.previous_keypair);
}

static struct noise_keypair * __init st_next(struct st_side *side)
{
	return st_keypair(side, &side->peer->keypairs.next_keypair);
}

/* @cond, and says which check failed when it is false. */
static bool __init st_expect(bool cond, int line, const char *what)
{
	if (!cond)
		pr_err("noise self-test: line %d: %s\n", line, what);
	return cond;
}

#define ST_OK(cond) st_expect(cond, __LINE__, #cond)

/* Whether @by consuming the initiation gives @by's peer. */
static bool __init st_consume_initiation(struct st_handshake *t,
					 struct st_side *by)
{
	struct wg_peer *peer;

	peer = wg_noise_handshake_consume_initiation(&t->initiation, by->wg);
	wg_peer_put(peer);
	return peer && peer == by->peer;
}

static bool __init st_consume_response(struct st_handshake *t,
				       struct st_side *by)
{
	struct wg_peer *peer;

	peer = wg_noise_handshake_consume_response(&t->response, by->wg);
	wg_peer_put(peer);
	return peer && peer == by->peer;
}

/* The initiator's session and the responder's must mirror each other. */
static bool __init st_sessions_match(struct noise_keypair *initiator,
				     struct noise_keypair *responder)
{
	static const u8 plain[] = "a data packet";
	u8 sealed[sizeof(plain) + NOISE_AUTHTAG_LEN], opened[sizeof(plain)];
	struct wg_peer *peer;

	if (!ST_OK(initiator && responder))
		return false;
	if (!ST_OK(initiator->i_am_the_initiator))
		return false;
	if (!ST_OK(!responder->i_am_the_initiator))
		return false;
	if (!ST_OK(!memcmp(initiator->sending.key, responder->receiving.key,
			   NOISE_SYMMETRIC_KEY_LEN)))
		return false;
	if (!ST_OK(!memcmp(initiator->receiving.key, responder->sending.key,
			   NOISE_SYMMETRIC_KEY_LEN)))
		return false;
	if (!ST_OK(memcmp(initiator->sending.key, initiator->receiving.key,
			  NOISE_SYMMETRIC_KEY_LEN)))
		return false;
	if (!ST_OK(initiator->sending.is_valid && responder->sending.is_valid))
		return false;
	if (!ST_OK(initiator->remote_index == responder->entry.id))
		return false;
	if (!ST_OK(responder->remote_index == initiator->entry.id))
		return false;

	/* The responder's index table finds its session, and only as one. */
	if (!ST_OK(wg_index_find(responder->entry.peer->device->directory,
				 initiator->remote_index, WG_INDEX_SESSION,
				 &peer) ==
		   &responder->entry))
		return false;
	if (!ST_OK(peer == responder->entry.peer))
		return false;
	wg_peer_put(peer);
	if (!ST_OK(!wg_index_find(responder->entry.peer->device->directory,
				  initiator->remote_index, WG_INDEX_HANDSHAKE,
				  &peer)))
		return false;

	/* And a packet sealed by one opens with the other. */
	chacha20poly1305_encrypt(sealed, plain, sizeof(plain), NULL, 0, 0,
				 initiator->sending.key);
	if (!ST_OK(chacha20poly1305_decrypt(opened, sealed, sizeof(sealed), NULL,
					    0, 0, responder->receiving.key)))
		return false;
	if (!ST_OK(!memcmp(opened, plain, sizeof(plain))))
		return false;
	return true;
}

/* a -> b, with a replay, tampering and a stranger on the way. */
static bool __init st_first_handshake(struct st_handshake *t)
{
	struct message_handshake_initiation tampered;
	struct noise_handshake *b_handshake = &t->b.peer->handshake;
	struct noise_keypair *a_session, *b_session;

	if (!ST_OK(wg_noise_handshake_create_initiation(&t->initiation,
							&t->a.peer->handshake)))
		return false;
	if (!ST_OK(le32_to_cpu(t->initiation.header.type) ==
		   MESSAGE_HANDSHAKE_INITIATION))
		return false;

	tampered = t->initiation;
	tampered.encrypted_timestamp[3] ^= 1;
	if (!ST_OK(!wg_noise_handshake_consume_initiation(&tampered, t->b.wg)))
		return false;
	/* c does not have the private key a encrypted to. */
	if (!ST_OK(!wg_noise_handshake_consume_initiation(&t->initiation,
							  t->c.wg)))
		return false;

	if (!ST_OK(st_consume_initiation(t, &t->b)))
		return false;
	if (!ST_OK(b_handshake->stage == NOISE_INITIATION_RECEIVED))
		return false;
	/* A replay, even with the flood protection out of the way. */
	b_handshake->last_initiation_at = 0;
	if (!ST_OK(!st_consume_initiation(t, &t->b)))
		return false;

	if (!ST_OK(wg_noise_handshake_create_response(&t->response, b_handshake)))
		return false;
	if (!ST_OK(t->response.receiver_index == t->initiation.sender_index))
		return false;
	if (!ST_OK(st_consume_response(t, &t->a)))
		return false;
	/* The same response a second time finds nothing to complete. */
	if (!ST_OK(!st_consume_response(t, &t->a)))
		return false;

	if (!ST_OK(wg_noise_handshake_begin_session(&t->a.peer->handshake,
						    &t->a.peer->keypairs)))
		return false;
	if (!ST_OK(wg_noise_handshake_begin_session(b_handshake,
						    &t->b.peer->keypairs)))
		return false;
	if (!ST_OK(!wg_noise_handshake_begin_session(b_handshake,
						     &t->b.peer->keypairs)))
		return false;

	/* The initiator sends at once; the responder waits for proof. */
	a_session = st_current(&t->a);
	b_session = st_next(&t->b);
	if (!ST_OK(a_session && !st_next(&t->a)))
		return false;
	if (!ST_OK(b_session && !st_current(&t->b)))
		return false;
	if (!st_sessions_match(a_session, b_session))
		return false;

	if (!ST_OK(!wg_noise_received_with_keypair(&t->b.peer->keypairs,
						   a_session)))
		return false;
	if (!ST_OK(wg_noise_received_with_keypair(&t->b.peer->keypairs,
						  b_session)))
		return false;
	if (!ST_OK(st_current(&t->b) == b_session && !st_next(&t->b)))
		return false;
	if (!ST_OK(!wg_noise_received_with_keypair(&t->b.peer->keypairs,
						   b_session)))
		return false;
	return true;
}

/* a -> b again: flood protection, then a wrong preshared key. */
static bool __init st_second_handshake(struct st_handshake *t)
{
	struct noise_handshake *b_handshake = &t->b.peer->handshake;
	struct noise_keypair *old_a_session = st_current(&t->a);
	u8 wrong_psk[NOISE_SYMMETRIC_KEY_LEN];
	bool created;

	/* Past the timestamp's granule, so that only the flood check bites. */
	msleep(2 * NSEC_PER_SEC / INITIATIONS_PER_SECOND / NSEC_PER_MSEC);
	if (!ST_OK(wg_noise_handshake_create_initiation(&t->initiation,
							&t->a.peer->handshake)))
		return false;
	/*
	 * "Just now" must stay just now however slowly the DHs run (QEMU
	 * without KVM): pretend the last one is still ahead of us.
	 */
	b_handshake->last_initiation_at =
		ktime_get_coarse_boottime_ns() + NSEC_PER_SEC;
	if (!ST_OK(!st_consume_initiation(t, &t->b)))
		return false;
	b_handshake->last_initiation_at -= 2 * NSEC_PER_SEC;
	if (!ST_OK(st_consume_initiation(t, &t->b)))
		return false;
	if (!ST_OK(wg_noise_handshake_create_response(&t->response, b_handshake)))
		return false;

	get_random_bytes(wrong_psk, sizeof(wrong_psk));
	wg_noise_set_preshared_key(&t->a.peer->handshake, wrong_psk);
	if (!ST_OK(!st_consume_response(t, &t->a)))
		return false;
	wg_noise_set_preshared_key(&t->a.peer->handshake, t->psk);
	if (!ST_OK(st_consume_response(t, &t->a)))
		return false;

	if (!ST_OK(wg_noise_handshake_begin_session(&t->a.peer->handshake,
						    &t->a.peer->keypairs)))
		return false;
	if (!ST_OK(wg_noise_handshake_begin_session(b_handshake,
						    &t->b.peer->keypairs)))
		return false;
	if (!ST_OK(st_previous(&t->a) == old_a_session))
		return false;
	if (!ST_OK(st_current(&t->a) != old_a_session))
		return false;
	if (!st_sessions_match(st_current(&t->a), st_next(&t->b)))
		return false;

	/* A removed peer gets no new index. */
	WRITE_ONCE(t->b.peer->is_dead, true);
	created = wg_noise_handshake_create_initiation(&t->initiation,
						       b_handshake);
	WRITE_ONCE(t->b.peer->is_dead, false);
	if (!ST_OK(!created))
		return false;

	/* Without a private key there is nothing to initiate with. */
	wg_noise_static_identity_clear(&t->c.wg->static_identity);
	if (!ST_OK(!wg_noise_handshake_create_initiation(&t->initiation,
							 &t->c.peer->handshake)))
		return false;
	return true;
}

/* A key change of @side, its one peer listed as netlink would have it. */
static int __init st_change_key(struct st_side *side,
				const u8 private_key[NOISE_PUBLIC_KEY_LEN])
{
	struct wg_device *wg = side->wg;
	int ret;

	mutex_lock(&wg->device_update_lock);
	list_add(&side->peer->peer_list, &wg->peer_list);
	wg->num_peers = 1;
	ret = wg_noise_change_identity(wg, private_key);
	list_del_init(&side->peer->peer_list);
	wg->num_peers = 0;
	mutex_unlock(&wg->device_update_lock);
	return ret;
}

/*
 * A key change lands in one step: the handshake in progress is reset,
 * the peer's DH(static, static) and the device's cookie keys are those of
 * the new key, and a peer that has our new public key can no longer
 * handshake, before anyone has removed it.
 */
static bool __init st_key_change(struct st_handshake *t)
{
	struct noise_static_identity *c_identity = &t->c.wg->static_identity;
	struct noise_handshake *b_handshake = &t->b.peer->handshake;
	static const u8 none[NOISE_PUBLIC_KEY_LEN];
	struct wg_cookie_keys expected;
	u8 static_static[NOISE_PUBLIC_KEY_LEN];
	struct wg_peer *peer;

	if (!ST_OK(wg_noise_handshake_create_initiation(&t->initiation,
							&t->a.peer->handshake)))
		return false;
	/* Not a replay nor a flood, however soon after the last one. */
	memset(b_handshake->newest_timestamp, 0, NOISE_TIMESTAMP_LEN);
	b_handshake->last_initiation_at = 0;
	peer = wg_noise_handshake_consume_initiation(&t->initiation, t->b.wg);
	if (!ST_OK(peer == t->b.peer))
		return false;
	wg_peer_put(peer);
	if (!ST_OK(!st_change_key(&t->b, t->b.private_key)))
		return false;
	if (!ST_OK(b_handshake->stage == NOISE_IDLE))
		return false;
	if (!ST_OK(!wg_noise_handshake_create_response(&t->response,
						       b_handshake)))
		return false;
	if (!ST_OK(curve25519(static_static, t->b.private_key,
			      t->a.public_key)) ||
	    !ST_OK(!memcmp(b_handshake->static_static, static_static,
			   NOISE_PUBLIC_KEY_LEN)))
		return false;

	/* c takes a's key, and so the key of its own one peer. */
	if (!ST_OK(!st_change_key(&t->c, t->a.private_key)))
		return false;
	if (!ST_OK(!memcmp(c_identity->static_public, t->a.public_key,
			   NOISE_PUBLIC_KEY_LEN)))
		return false;
	wg_cookie_keys_derive(&expected, t->a.public_key);
	if (!ST_OK(!memcmp(&c_identity->cookie_keys, &expected,
			   sizeof(expected))))
		return false;
	if (!ST_OK(!memcmp(t->c.peer->handshake.static_static, none,
			   NOISE_PUBLIC_KEY_LEN)))
		return false;
	return ST_OK(!wg_noise_handshake_create_initiation(&t->initiation,
							   &t->c.peer->handshake));
}

/*
 * Known answers, from an independent HMAC/HKDF over BLAKE2s (Python's hmac
 * and hashlib): the initial chaining key and hash of every handshake, and
 * KDF3 of "WireGuard" under the chaining key 00 01 .. 1f.
 */
static const u8 st_initial_chaining_key[NOISE_HASH_LEN] __initconst = {
	0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0, 0x2e, 0xc3,
	0x35, 0xe2, 0xa0, 0x25, 0xd2, 0xd0, 0x16, 0xeb, 0x42, 0x06,
	0xf8, 0x72, 0x77, 0xf5, 0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78,
	0xcd, 0x36
};

static const u8 st_initial_hash[NOISE_HASH_LEN] __initconst = {
	0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66, 0x69, 0x12,
	0x43, 0xdb, 0x45, 0x8a, 0xd5, 0x32, 0x2d, 0x9c, 0x6c, 0x66,
	0x22, 0x93, 0xe8, 0xb7, 0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07,
	0x9e, 0xf3
};

static const u8 st_kdf_outputs[3][NOISE_HASH_LEN] __initconst = { {
	0x7e, 0x61, 0x5c, 0xe2, 0x57, 0x3f, 0x41, 0x39, 0xb9, 0x60,
	0xd5, 0x62, 0xec, 0x46, 0x3d, 0xaf, 0x71, 0x64, 0xbd, 0x86,
	0xa0, 0xa6, 0x4c, 0x0a, 0xdc, 0x37, 0x4f, 0xf2, 0x65, 0x57,
	0x69, 0xf3
}, {
	0x42, 0xdb, 0xbd, 0x44, 0x38, 0xe1, 0x01, 0xcd, 0x2c, 0x2e,
	0xa8, 0xd0, 0x5e, 0xd6, 0x71, 0x6b, 0xf8, 0x74, 0x89, 0xae,
	0xa4, 0x7e, 0xce, 0x2f, 0x06, 0x35, 0x88, 0x35, 0x67, 0x01,
	0x30, 0xbf
}, {
	0x5c, 0x58, 0xc1, 0xd9, 0x80, 0x8a, 0x5b, 0xfd, 0xf8, 0xf3,
	0x8f, 0x64, 0x87, 0x24, 0x89, 0x85, 0xc0, 0x4f, 0x4b, 0x6d,
	0x0f, 0xe4, 0x27, 0x51, 0x69, 0x35, 0xa0, 0xf6, 0x90, 0x3b,
	0x01, 0x57
} };

static bool __init st_primitives(void)
{
	static const u8 data[] __initconst = "WireGuard";
	u8 chaining_key[NOISE_HASH_LEN], out[3][NOISE_HASH_LEN];
	u8 *outputs[] = { out[0], out[1], out[2] };
	int i;

	if (!ST_OK(!memcmp(protocol_start.chaining_key,
			   st_initial_chaining_key, NOISE_HASH_LEN)) ||
	    !ST_OK(!memcmp(protocol_start.hash, st_initial_hash,
			   NOISE_HASH_LEN)))
		return false;
	for (i = 0; i < NOISE_HASH_LEN; ++i)
		chaining_key[i] = i;
	kdf(outputs, ARRAY_SIZE(outputs), chaining_key, data,
	    sizeof(data) - 1);
	return ST_OK(!memcmp(out, st_kdf_outputs, sizeof(out)));
}

bool __init wg_noise_handshake_selftest(void)
{
	struct st_handshake *t = kzalloc(sizeof(*t), GFP_KERNEL);
	bool ok = false;

	if (!t)
		goto out;
	get_random_bytes(t->psk, sizeof(t->psk));
	if (!st_side_keys(&t->a) || !st_side_keys(&t->b) ||
	    !st_side_keys(&t->c)) {
		pr_err("noise self-test: key generation failed\n");
		goto out;
	}
	if (!st_side_init(&t->a, t->b.public_key, t->psk) ||
	    !st_side_init(&t->b, t->a.public_key, t->psk) ||
	    !st_side_init(&t->c, t->a.public_key, t->psk)) {
		pr_err("noise self-test: out of memory\n");
		goto out;
	}
	ok = st_primitives() && st_first_handshake(t) &&
	     st_second_handshake(t) && st_key_change(t);

out:
	if (t) {
		st_side_clear(&t->a);
		st_side_clear(&t->b);
		st_side_clear(&t->c);
		/* The keypairs are freed after RCU. */
		rcu_barrier();
		st_side_free(&t->a);
		st_side_free(&t->b);
		st_side_free(&t->c);
		kfree_sensitive(t);
	}
	if (ok)
		pr_info("noise self-tests: pass\n");
	else
		pr_err("noise self-tests: FAIL\n");
	return ok;
}
