// SPDX-License-Identifier: GPL-2.0
/* Growable arrays behind struct wg_device and struct wg_peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "containers.h"

void *xrealloc(void *ptr, size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size) {
		fputs("Out of memory\n", stderr);
		exit(1);
	}
	p = realloc(ptr, (n && size) ? n * size : 1);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

struct wg_peer *device_add_peer(struct wg_device *dev)
{
	struct wg_peer *peer;

	if (dev->n_peers == dev->cap_peers) {
		dev->cap_peers = dev->cap_peers ? dev->cap_peers * 2 : 8;
		dev->peers = xrealloc(dev->peers, dev->cap_peers, sizeof(*dev->peers));
	}
	peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	return peer;
}

struct wg_allowedip *peer_add_ip(struct wg_peer *peer)
{
	struct wg_allowedip *ip;

	if (peer->n_ips == peer->cap_ips) {
		peer->cap_ips = peer->cap_ips ? peer->cap_ips * 2 : 4;
		peer->ips = xrealloc(peer->ips, peer->cap_ips, sizeof(*peer->ips));
	}
	ip = &peer->ips[peer->n_ips++];
	memset(ip, 0, sizeof(*ip));
	return ip;
}

void peer_free(struct wg_peer *peer)
{
	free(peer->ips);
	peer->ips = NULL;
	peer->n_ips = peer->cap_ips = 0;
}

void device_free(struct wg_device *dev)
{
	size_t i;

	if (!dev)
		return;
	for (i = 0; i < dev->n_peers; ++i)
		peer_free(&dev->peers[i]);
	free(dev->peers);
	dev->peers = NULL;
	dev->n_peers = dev->cap_peers = 0;
}

struct wg_peer *device_find_peer(const struct wg_device *dev, const uint8_t key[WG_KEY_SIZE])
{
	size_t i;

	for (i = 0; i < dev->n_peers; ++i)
		if (!memcmp(dev->peers[i].public_key, key, WG_KEY_SIZE))
			return &dev->peers[i];
	return NULL;
}
