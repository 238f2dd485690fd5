// SPDX-License-Identifier: GPL-2.0
/*
 * The text of the cross-platform userspace API (wireguard.com/xplatform):
 * requests are "get=1" or "set=1" followed by key=value lines and an empty
 * line; keys are lowercase hex, endpoints are IP:port or [IPv6]:port.
 * Removing one allowed IP is spelled remove_allowed_ip=PREFIX (the key
 * newer wireguard-go understands); older implementations answer with an
 * error, which the caller reports.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "curve25519.h"
#include "encoding.h"
#include "fmt.h"
#include "uapi-text.h"

static bool parse_u64(uint64_t *out, const char *s)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool parse_numeric_endpoint(union wg_endpoint *ep, const char *value)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[INET6_ADDRSTRLEN + 16];
	const char *port;
	size_t hlen;
	bool ok = false;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (!close || close[1] != ':')
			return false;
		hlen = (size_t)(close - value - 1);
		if (hlen >= sizeof(host))
			return false;
		memcpy(host, value + 1, hlen);
		port = close + 2;
	} else {
		port = strrchr(value, ':');
		if (!port)
			return false;
		hlen = (size_t)(port - value);
		if (hlen >= sizeof(host))
			return false;
		memcpy(host, value, hlen);
		++port;
	}
	host[hlen] = '\0';
	if (!*port || getaddrinfo(host, port, &hints, &res))
		return false;
	if (res->ai_addrlen <= sizeof(*ep) && (res->ai_family == AF_INET || res->ai_family == AF_INET6)) {
		memset(ep, 0, sizeof(*ep));
		memcpy(ep, res->ai_addr, res->ai_addrlen);
		ok = true;
	}
	freeaddrinfo(res);
	return ok;
}

static bool parse_prefix(struct wg_allowedip *ip, const char *value)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint64_t cidr;

	memset(ip, 0, sizeof(*ip));
	if (strlen(value) >= sizeof(buf))
		return false;
	strcpy(buf, value);
	slash = strchr(buf, '/');
	if (!slash || !parse_u64(&cidr, slash + 1))
		return false;
	*slash = '\0';
	if (inet_pton(AF_INET, buf, &ip->ip4) == 1 && cidr <= 32)
		ip->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &ip->ip6) == 1 && cidr <= 128)
		ip->family = AF_INET6;
	else
		return false;
	ip->cidr = (uint8_t)cidr;
	return true;
}

int uapi_parse_errno(const char *text, size_t len)
{
	struct wg_device dev = { 0 };
	int ret = uapi_parse_get(&dev, text, len);

	device_free(&dev);
	return ret;
}

int uapi_parse_get(struct wg_device *dev, const char *text, size_t len)
{
	struct wg_peer *peer = NULL;
	const char *line = text, *end = text + len, *nl;
	char buf[512], *value;
	uint64_t num;
	int err = -EPROTO;
	bool have_errno = false, terminated = false;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			break;
		if (nl == line) {
			terminated = true;
			break;
		}
		if ((size_t)(nl - line) >= sizeof(buf))
			return -EPROTO;
		memcpy(buf, line, (size_t)(nl - line));
		buf[nl - line] = '\0';
		line = nl + 1;
		if (memchr(buf, '\0', strlen(buf) + 1) != buf + strlen(buf))
			return -EPROTO;
		value = strchr(buf, '=');
		if (!value)
			return -EPROTO;
		*value++ = '\0';

		if (!strcmp(buf, "errno")) {
			if (!parse_u64(&num, value) || num > 4095)
				return -EPROTO;
			err = -(int)num;
			have_errno = true;
		} else if (!strcmp(buf, "private_key") && !peer) {
			if (!key_from_hex(dev->private_key, value))
				return -EPROTO;
			if (!key_is_zero(dev->private_key)) {
				dev->flags |= DEV_HAS_PRIVATE_KEY | DEV_HAS_PUBLIC_KEY;
				if (!x25519_public(dev->public_key, dev->private_key))
					return -ENOMEM;
			}
		} else if (!strcmp(buf, "listen_port") && !peer) {
			if (!parse_u64(&num, value) || num > 65535)
				return -EPROTO;
			dev->listen_port = (uint16_t)num;
		} else if (!strcmp(buf, "fwmark") && !peer) {
			if (!parse_u64(&num, value) || num > 0xffffffffULL)
				return -EPROTO;
			dev->fwmark = (uint32_t)num;
		} else if (!strcmp(buf, "public_key")) {
			peer = device_add_peer(dev);
			if (!key_from_hex(peer->public_key, value))
				return -EPROTO;
			peer->flags |= PEER_HAS_PUBLIC_KEY;
		} else if (!peer) {
			/* Unknown device-level keys are skipped (newer daemons). */
			continue;
		} else if (!strcmp(buf, "preshared_key")) {
			if (!key_from_hex(peer->preshared_key, value))
				return -EPROTO;
			if (!key_is_zero(peer->preshared_key))
				peer->flags |= PEER_HAS_PRESHARED_KEY;
		} else if (!strcmp(buf, "endpoint")) {
			if (!parse_numeric_endpoint(&peer->endpoint, value))
				return -EPROTO;
			peer->flags |= PEER_HAS_ENDPOINT;
		} else if (!strcmp(buf, "persistent_keepalive_interval")) {
			if (!parse_u64(&num, value) || num > 65535)
				return -EPROTO;
			peer->keepalive = (uint16_t)num;
		} else if (!strcmp(buf, "allowed_ip")) {
			struct wg_allowedip ip;

			if (!parse_prefix(&ip, value))
				return -EPROTO;
			*peer_add_ip(peer) = ip;
		} else if (!strcmp(buf, "last_handshake_time_sec")) {
			if (!parse_u64(&num, value) || num > INT64_MAX)
				return -EPROTO;
			peer->handshake_sec = (int64_t)num;
		} else if (!strcmp(buf, "last_handshake_time_nsec")) {
			if (!parse_u64(&num, value) || num > INT64_MAX)
				return -EPROTO;
			peer->handshake_nsec = (int64_t)num;
		} else if (!strcmp(buf, "rx_bytes")) {
			if (!parse_u64(&num, value))
				return -EPROTO;
			peer->rx_bytes = num;
		} else if (!strcmp(buf, "tx_bytes")) {
			if (!parse_u64(&num, value))
				return -EPROTO;
			peer->tx_bytes = num;
		}
		/* protocol_version and anything newer: ignored. */
	}
	if (!have_errno)
		return terminated ? 0 : -EPROTO;
	return err;
}

struct strbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (sb->len + (size_t)n < sb->cap) {
			sb->len += (size_t)n;
			return;
		}
		sb->cap = sb->cap * 2 + (size_t)n + 64;
		sb->s = xrealloc(sb->s, sb->cap, 1);
	}
}

char *uapi_build_set(const struct wg_device *dev, size_t *len)
{
	struct strbuf sb = { .s = xrealloc(NULL, 4096, 1), .cap = 4096 };
	char hex[WG_KEY_HEX_LEN], addr[INET6_ADDRSTRLEN + 8], ep[INET6_ADDRSTRLEN + 32];
	size_t i, j;

	sb.s[0] = '\0';
	sb_printf(&sb, "set=1\n");
	if (dev->flags & DEV_HAS_PRIVATE_KEY) {
		key_to_hex(hex, dev->private_key);
		sb_printf(&sb, "private_key=%s\n", hex);
	}
	if (dev->flags & DEV_HAS_LISTEN_PORT)
		sb_printf(&sb, "listen_port=%u\n", dev->listen_port);
	if (dev->flags & DEV_HAS_FWMARK)
		sb_printf(&sb, "fwmark=%u\n", dev->fwmark);
	if (dev->flags & DEV_REPLACE_PEERS)
		sb_printf(&sb, "replace_peers=true\n");
	for (i = 0; i < dev->n_peers; ++i) {
		const struct wg_peer *peer = &dev->peers[i];

		key_to_hex(hex, peer->public_key);
		sb_printf(&sb, "public_key=%s\n", hex);
		if (peer->flags & PEER_REMOVE) {
			sb_printf(&sb, "remove=true\n");
			continue;
		}
		if (peer->flags & PEER_UPDATE_ONLY)
			sb_printf(&sb, "update_only=true\n");
		if (peer->flags & PEER_HAS_PRESHARED_KEY) {
			key_to_hex(hex, peer->preshared_key);
			sb_printf(&sb, "preshared_key=%s\n", hex);
		}
		if (peer->flags & PEER_HAS_ENDPOINT)
			sb_printf(&sb, "endpoint=%s\n", fmt_endpoint(ep, sizeof(ep), &peer->endpoint));
		if (peer->flags & PEER_HAS_KEEPALIVE)
			sb_printf(&sb, "persistent_keepalive_interval=%u\n", peer->keepalive);
		if (peer->flags & PEER_REPLACE_ALLOWEDIPS)
			sb_printf(&sb, "replace_allowed_ips=true\n");
		for (j = 0; j < peer->n_ips; ++j)
			sb_printf(&sb, "%s=%s\n", peer->ips[j].remove ? "remove_allowed_ip" : "allowed_ip",
				  fmt_allowedip(addr, sizeof(addr), &peer->ips[j], 0));
	}
	sb_printf(&sb, "\n");
	*len = sb.len;
	return sb.s;
}
