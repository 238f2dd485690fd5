// SPDX-License-Identifier: GPL-2.0
/*
 * Difference between the running state and a wanted configuration,
 * expressed as incremental operations.  Sets of prefixes are compared by
 * sorting (O(n log n)), peers are matched by binary search on their keys,
 * so a million prefixes or ten thousand peers are fine.
 */
#include <stdlib.h>
#include <string.h>
#include "encoding.h"
#include "sync.h"

void allowedip_mask(struct wg_allowedip *ip)
{
	unsigned int bits = ip->family == AF_INET6 ? 128 : 32, i;
	uint8_t *bytes = ip->family == AF_INET6 ? ip->ip6.s6_addr : (uint8_t *)&ip->ip4.s_addr;

	for (i = ip->cidr; i < bits; ++i)
		bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

int allowedip_cmp(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->family == AF_INET6 ? (const void *)&a->ip6 : (const void *)&a->ip4,
		   b->family == AF_INET6 ? (const void *)&b->ip6 : (const void *)&b->ip4,
		   a->family == AF_INET6 ? 16 : 4);
	if (r)
		return r;
	return (int)a->cidr - (int)b->cidr;
}

static int ip_qsort_cmp(const void *a, const void *b)
{
	return allowedip_cmp(a, b);
}

/* Sorted, masked, de-duplicated copy of the added (non-removal) prefixes. */
static struct wg_allowedip *canonical(const struct wg_allowedip *ips, size_t n, size_t *out_n)
{
	struct wg_allowedip *c = xrealloc(NULL, n ? n : 1, sizeof(*c));
	size_t i, m = 0;

	for (i = 0; i < n; ++i) {
		if (ips[i].remove)
			continue;
		c[m] = ips[i];
		c[m].remove = 0;
		allowedip_mask(&c[m]);
		++m;
	}
	qsort(c, m, sizeof(*c), ip_qsort_cmp);
	n = m;
	for (i = m = 0; i < n; ++i)
		if (!m || allowedip_cmp(&c[m - 1], &c[i]))
			c[m++] = c[i];
	*out_n = m;
	return c;
}

static bool ip_in(const struct wg_allowedip *set, size_t n, const struct wg_allowedip *ip)
{
	return bsearch(ip, set, n, sizeof(*set), ip_qsort_cmp) != NULL;
}

static int peer_key_cmp(const void *a, const void *b)
{
	const struct wg_peer *const *pa = a, *const *pb = b;

	return memcmp((*pa)->public_key, (*pb)->public_key, WG_KEY_SIZE);
}

static bool endpoint_equal(const union wg_endpoint *a, const union wg_endpoint *b)
{
	if (a->addr.sa_family != b->addr.sa_family)
		return false;
	if (a->addr.sa_family == AF_INET)
		return a->addr4.sin_port == b->addr4.sin_port && a->addr4.sin_addr.s_addr == b->addr4.sin_addr.s_addr;
	if (a->addr.sa_family == AF_INET6)
		return a->addr6.sin6_port == b->addr6.sin6_port &&
		       !memcmp(&a->addr6.sin6_addr, &b->addr6.sin6_addr, 16) &&
		       a->addr6.sin6_scope_id == b->addr6.sin6_scope_id;
	return true;
}

static void copy_ips(struct wg_peer *to, const struct wg_allowedip *ips, size_t n, bool remove)
{
	size_t i;

	for (i = 0; i < n; ++i) {
		struct wg_allowedip *ip = peer_add_ip(to);

		*ip = ips[i];
		if (remove)
			ip->remove = 1;
	}
}

size_t sync_compute(struct wg_device *out, const struct wg_device *cur, const struct wg_device *want,
		    enum sync_mode mode, bool can_remove)
{
	const struct wg_peer **index = NULL, **found;
	struct wg_allowedip *all_wanted = NULL;
	size_t n_all = 0, i, j, removals = 0;
	uint8_t zero[WG_KEY_SIZE] = { 0 };
	unsigned char *kept = NULL;

	memset(out, 0, sizeof(*out));
	memcpy(out->name, want->name[0] ? want->name : cur->name, sizeof(out->name));

	/* Device fields. */
	if (want->flags & DEV_HAS_PRIVATE_KEY) {
		if (!(cur->flags & DEV_HAS_PRIVATE_KEY) || memcmp(cur->private_key, want->private_key, WG_KEY_SIZE)) {
			if (!key_is_zero(want->private_key) || (cur->flags & DEV_HAS_PRIVATE_KEY)) {
				out->flags |= DEV_HAS_PRIVATE_KEY;
				memcpy(out->private_key, want->private_key, WG_KEY_SIZE);
			}
		}
	} else if (mode == SYNC_SYNCCONF && (cur->flags & DEV_HAS_PRIVATE_KEY)) {
		out->flags |= DEV_HAS_PRIVATE_KEY;
		memcpy(out->private_key, zero, WG_KEY_SIZE);
	}
	if ((want->flags & DEV_HAS_LISTEN_PORT) && (want->listen_port != cur->listen_port || !want->listen_port)) {
		out->flags |= DEV_HAS_LISTEN_PORT;
		out->listen_port = want->listen_port;
	}
	if (want->flags & DEV_HAS_FWMARK) {
		if (want->fwmark != cur->fwmark) {
			out->flags |= DEV_HAS_FWMARK;
			out->fwmark = want->fwmark;
		}
	} else if (mode == SYNC_SYNCCONF && cur->fwmark) {
		out->flags |= DEV_HAS_FWMARK;
		out->fwmark = 0;
	}

	/* Index of the running peers, and of every prefix some wanted peer
	 * will own (those move by being added; no removal needed). */
	index = xrealloc(NULL, cur->n_peers ? cur->n_peers : 1, sizeof(*index));
	for (i = 0; i < cur->n_peers; ++i)
		index[i] = &cur->peers[i];
	qsort(index, cur->n_peers, sizeof(*index), peer_key_cmp);
	kept = calloc(cur->n_peers ? cur->n_peers : 1, 1);
	if (!kept)
		abort();
	{
		size_t total = 0, k = 0;

		for (i = 0; i < want->n_peers; ++i)
			if (!(want->peers[i].flags & PEER_REMOVE))
				total += want->peers[i].n_ips;
		all_wanted = xrealloc(NULL, total ? total : 1, sizeof(*all_wanted));
		for (i = 0; i < want->n_peers; ++i)
			if (!(want->peers[i].flags & PEER_REMOVE))
				for (j = 0; j < want->peers[i].n_ips; ++j)
					if (!want->peers[i].ips[j].remove)
						all_wanted[k++] = want->peers[i].ips[j];
		{
			struct wg_allowedip *c = canonical(all_wanted, k, &n_all);

			free(all_wanted);
			all_wanted = c;
		}
	}

	for (i = 0; i < want->n_peers; ++i) {
		const struct wg_peer *w = &want->peers[i], *c = NULL, *key = w;
		struct wg_peer *o;
		bool changed = false;

		found = cur->n_peers ? bsearch(&key, index, cur->n_peers, sizeof(*index), peer_key_cmp) : NULL;
		if (found) {
			c = *found;
			kept[c - cur->peers] = 1;
		}
		if (!c || (w->flags & PEER_REMOVE)) {
			/* New peer, or removal: as asked. */
			if (!c && (w->flags & PEER_REMOVE))
				continue;
			o = device_add_peer(out);
			*o = *w;
			o->ips = NULL;
			o->n_ips = o->cap_ips = 0;
			copy_ips(o, w->ips, w->n_ips, false);
			for (j = 0; j < o->n_ips; ++j)
				removals += o->ips[j].remove;
			if (!c)
				o->flags &= ~PEER_REPLACE_ALLOWEDIPS;	/* nothing to replace */
			continue;
		}

		o = device_add_peer(out);
		memcpy(o->public_key, w->public_key, WG_KEY_SIZE);
		o->flags = PEER_HAS_PUBLIC_KEY;
		if (w->flags & PEER_HAS_PRESHARED_KEY) {
			if (memcmp(w->preshared_key, c->preshared_key, WG_KEY_SIZE)) {
				o->flags |= PEER_HAS_PRESHARED_KEY;
				memcpy(o->preshared_key, w->preshared_key, WG_KEY_SIZE);
				changed = true;
			}
		} else if (mode == SYNC_SETCONF && (c->flags & PEER_HAS_PRESHARED_KEY)) {
			o->flags |= PEER_HAS_PRESHARED_KEY;
			memset(o->preshared_key, 0, WG_KEY_SIZE);
			changed = true;
		}
		if (w->flags & PEER_HAS_KEEPALIVE) {
			if (w->keepalive != c->keepalive) {
				o->flags |= PEER_HAS_KEEPALIVE;
				o->keepalive = w->keepalive;
				changed = true;
			}
		} else if (mode == SYNC_SETCONF && c->keepalive) {
			o->flags |= PEER_HAS_KEEPALIVE;
			o->keepalive = 0;
			changed = true;
		}
		if ((w->flags & PEER_HAS_ENDPOINT) &&
		    (!(c->flags & PEER_HAS_ENDPOINT) || !endpoint_equal(&w->endpoint, &c->endpoint))) {
			o->flags |= PEER_HAS_ENDPOINT;
			o->endpoint = w->endpoint;
			changed = true;
		}

		if (w->flags & PEER_REPLACE_ALLOWEDIPS) {
			size_t nw, nc, a = 0, b = 0, n_rm = 0;
			struct wg_allowedip *ws = canonical(w->ips, w->n_ips, &nw);
			struct wg_allowedip *cs = canonical(c->ips, c->n_ips, &nc);
			struct wg_allowedip *rm = xrealloc(NULL, nc ? nc : 1, sizeof(*rm));

			/* Merge the two sorted sets: additions go out now,
			 * removals are collected. */
			while (a < nw || b < nc) {
				int r = a == nw ? 1 : b == nc ? -1 : allowedip_cmp(&ws[a], &cs[b]);

				if (r < 0) {
					*peer_add_ip(o) = ws[a++];
				} else if (r > 0) {
					if (!ip_in(all_wanted, n_all, &cs[b]))
						rm[n_rm++] = cs[b];
					++b;
				} else {
					++a;
					++b;
				}
			}
			if (n_rm && !can_remove) {
				/* Fallback: replace the whole set (upstream way). */
				o->n_ips = 0;
				o->flags |= PEER_REPLACE_ALLOWEDIPS;
				copy_ips(o, ws, nw, false);
				changed = true;
			} else {
				copy_ips(o, rm, n_rm, true);
				removals += n_rm;
			}
			free(ws);
			free(cs);
			free(rm);
		} else {
			copy_ips(o, w->ips, w->n_ips, false);
			for (j = 0; j < w->n_ips; ++j)
				removals += w->ips[j].remove;
		}
		if (o->n_ips)
			changed = true;
		if (!changed) {
			peer_free(o);
			--out->n_peers;
		}
	}

	if (mode == SYNC_SETCONF || mode == SYNC_SYNCCONF) {
		for (i = 0; i < cur->n_peers; ++i) {
			struct wg_peer *o;

			if (kept[i])
				continue;
			o = device_add_peer(out);
			memcpy(o->public_key, cur->peers[i].public_key, WG_KEY_SIZE);
			o->flags = PEER_HAS_PUBLIC_KEY | PEER_REMOVE;
		}
	}
	free(kept);
	free(index);
	free(all_wanted);
	return removals;
}
