/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-memory model of a WireGuard device as wg(8) sees it: one device,
 * an array of peers, each peer with an array of allowed IPs.  Arrays are
 * grown geometrically so that a million prefixes are read in linear time.
 */
#ifndef WG_CONTAINERS_H
#define WG_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <net/if.h>
#include <sys/socket.h>

#define WG_KEY_SIZE 32

struct wg_allowedip {
	uint16_t family;	/* AF_INET or AF_INET6 */
	uint8_t cidr;
	uint8_t remove;		/* 1: "-prefix", remove instead of add */
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
};

union wg_endpoint {
	struct sockaddr addr;
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
};

enum {
	PEER_HAS_PUBLIC_KEY = 1U << 0,
	PEER_HAS_PRESHARED_KEY = 1U << 1,
	PEER_HAS_KEEPALIVE = 1U << 2,
	PEER_HAS_ENDPOINT = 1U << 3,
	PEER_REPLACE_ALLOWEDIPS = 1U << 4,
	PEER_REMOVE = 1U << 5,
	PEER_UPDATE_ONLY = 1U << 6,
	PEER_HAS_REMOVALS = 1U << 7,	/* some allowed IP has remove set */
};

struct wg_peer {
	uint32_t flags;
	uint8_t public_key[WG_KEY_SIZE];
	uint8_t preshared_key[WG_KEY_SIZE];
	union wg_endpoint endpoint;
	int64_t handshake_sec, handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t keepalive;
	struct wg_allowedip *ips;
	size_t n_ips, cap_ips;
};

enum {
	DEV_HAS_PRIVATE_KEY = 1U << 0,
	DEV_HAS_PUBLIC_KEY = 1U << 1,
	DEV_HAS_LISTEN_PORT = 1U << 2,
	DEV_HAS_FWMARK = 1U << 3,
	DEV_REPLACE_PEERS = 1U << 4,
};

struct wg_device {
	char name[IFNAMSIZ];
	uint32_t ifindex;
	uint32_t flags;
	uint8_t public_key[WG_KEY_SIZE];
	uint8_t private_key[WG_KEY_SIZE];
	uint16_t listen_port;
	uint32_t fwmark;
	struct wg_peer *peers;
	size_t n_peers, cap_peers;
};

/* Growth helpers; they abort with a message when memory runs out. */
struct wg_peer *device_add_peer(struct wg_device *dev);
struct wg_allowedip *peer_add_ip(struct wg_peer *peer);
void device_free(struct wg_device *dev);
void peer_free(struct wg_peer *peer);
struct wg_peer *device_find_peer(const struct wg_device *dev, const uint8_t key[WG_KEY_SIZE]);
void *xrealloc(void *ptr, size_t n, size_t size);

#endif
