// SPDX-License-Identifier: GPL-2.0
/*
 * Parsers for everything a user types: configuration files (the INI-like
 * format of wg(8)) and the arguments of `wg set'.  Nothing here talks to a
 * device; the result is a struct wg_device describing the change.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "config.h"
#include "encoding.h"

bool parse_key(uint8_t key[WG_KEY_SIZE], const char *value)
{
	if (!key_from_base64(key, value)) {
		fprintf(stderr, "Key is not the correct length or format: `%s'\n", value);
		memset(key, 0, WG_KEY_SIZE);
		return false;
	}
	return true;
}

bool parse_key_file(uint8_t key[WG_KEY_SIZE], bool *is_zero, const char *path)
{
	char buf[WG_KEY_B64_LEN + 1];
	size_t len = 0;
	FILE *f;
	int c;
	bool ok = true;

	memset(key, 0, WG_KEY_SIZE);
	*is_zero = false;
	f = fopen(path, "r");
	if (!f) {
		perror("fopen");
		return false;
	}
	/* The key, then only whitespace; an empty file means "no key". */
	while ((c = fgetc(f)) != EOF) {
		if (isspace(c))
			break;
		if (len >= WG_KEY_B64_LEN - 1) {
			ok = false;
			break;
		}
		buf[len++] = (char)c;
	}
	while (ok && c != EOF && (c = fgetc(f)) != EOF)
		if (!isspace(c))
			ok = false;
	if (ferror(f)) {
		perror("fgetc");
		fclose(f);
		return false;
	}
	fclose(f);
	buf[len] = '\0';
	if (ok && !len) {
		*is_zero = true;
		return true;
	}
	if (!ok || len != WG_KEY_B64_LEN - 1) {
		fputs("Invalid length key in key file\n", stderr);
		return false;
	}
	if (!key_from_base64(key, buf)) {
		fputs("Invalid key in key file\n", stderr);
		return false;
	}
	*is_zero = key_is_zero(key);
	return true;
}

bool parse_port(uint16_t *port, const char *value)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int ret;

	/* Ports go through getaddrinfo like upstream, so service names and
	 * its quirks (wrapping above 65535) behave identically. */
	ret = getaddrinfo(NULL, value, &hints, &res);
	if (ret) {
		fprintf(stderr, "%s: `%s'\n", ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret), value);
		return false;
	}
	if (res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in))
		*port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
	else if (res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6))
		*port = ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
	else {
		fprintf(stderr, "Neither IPv4 nor IPv6 address found: `%s'\n", value);
		freeaddrinfo(res);
		return false;
	}
	freeaddrinfo(res);
	return true;
}

static bool parse_uint(unsigned long long *out, const char *value, int base)
{
	char *end;

	if (!*value || !isdigit((unsigned char)*value))
		return false;
	errno = 0;
	*out = strtoull(value, &end, base);
	return !errno && !*end;
}

bool parse_fwmark(uint32_t *mark, const char *value)
{
	unsigned long long v;
	bool ok;

	if (!strcasecmp(value, "off")) {
		*mark = 0;
		return true;
	}
	if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
		ok = value[2] && isxdigit((unsigned char)value[2]) && parse_uint(&v, value + 2, 16);
	else
		ok = parse_uint(&v, value, 10);
	if (!ok || v > 0xffffffffULL) {
		fprintf(stderr, "Fwmark is neither 0/off nor 0-0xffffffff: `%s'\n", value);
		return false;
	}
	*mark = (uint32_t)v;
	return true;
}

bool parse_keepalive(uint16_t *interval, const char *value)
{
	unsigned long long v;

	if (!strcasecmp(value, "off")) {
		*interval = 0;
		return true;
	}
	if (!parse_uint(&v, value, 10) || v > 65535) {
		fprintf(stderr, "Persistent keepalive interval is neither 0/off nor 1-65535: `%s'\n", value);
		return false;
	}
	*interval = (uint16_t)v;
	return true;
}

static int resolution_retries(void)
{
	const char *env = getenv("WG_ENDPOINT_RESOLUTION_RETRIES");
	unsigned long long v;

	if (!env)
		return 15;
	if (!strcmp(env, "infinity"))
		return -1;
	if (!parse_uint(&v, env, 10) || v > INT_MAX)
		return 15;
	return (int)v;
}

bool parse_endpoint(union wg_endpoint *ep, const char *value)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res = NULL, *ai, *pick = NULL;
	char *copy, *host, *port;
	int ret, retries = resolution_retries(), attempt;
	double delay = 1.0;

	if (!*value) {
		fputs("Unable to parse empty endpoint\n", stderr);
		return false;
	}
	copy = strdup(value);
	if (!copy) {
		perror("strdup");
		return false;
	}
	if (copy[0] == '[') {
		char *close = strchr(copy, ']');

		if (!close) {
			fprintf(stderr, "Unable to find matching brace of endpoint: `%s'\n", value);
			free(copy);
			return false;
		}
		*close = '\0';
		host = copy + 1;
		if (close[1] != ':' || !close[2]) {
			fprintf(stderr, "Unable to find port of endpoint: `%s'\n", value);
			free(copy);
			return false;
		}
		port = close + 2;
	} else {
		port = strrchr(copy, ':');
		if (!port || !port[1] || port == copy) {
			fprintf(stderr, "Unable to find port of endpoint: `%s'\n", value);
			free(copy);
			return false;
		}
		*port++ = '\0';
		host = copy;
	}

	for (attempt = 0;; ++attempt) {
		ret = getaddrinfo(host, port, &hints, &res);
		if (!ret)
			break;
		/* Only errors that may go away (DNS not up yet) are retried. */
		if ((ret != EAI_AGAIN && ret != EAI_FAIL
#ifdef EAI_NODATA
		     && ret != EAI_NODATA
#endif
		    ) || (retries >= 0 && attempt >= retries)) {
			fprintf(stderr, "%s: `%s'\n", ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret), value);
			free(copy);
			return false;
		}
		fprintf(stderr, "%s: `%s'. Trying again in %.2f seconds...\n", gai_strerror(ret), value, delay);
		{
			struct timespec ts = { .tv_sec = (time_t)delay, .tv_nsec = (long)((delay - (double)(time_t)delay) * 1e9) };

			nanosleep(&ts, NULL);
		}
		delay *= 1.2;
		if (delay > 20.0)
			delay = 20.0;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET && ai->ai_addrlen == sizeof(struct sockaddr_in)) {
			pick = ai;
			break;
		}
	if (!pick)
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET6 && ai->ai_addrlen == sizeof(struct sockaddr_in6)) {
				pick = ai;
				break;
			}
	if (!pick) {
		fprintf(stderr, "Neither IPv4 nor IPv6 address found: `%s'\n", value);
		freeaddrinfo(res);
		free(copy);
		return false;
	}
	memset(ep, 0, sizeof(*ep));
	memcpy(ep, pick->ai_addr, pick->ai_addrlen);
	freeaddrinfo(res);
	free(copy);
	return true;
}

bool parse_allowedip(struct wg_allowedip *ip, bool *prefixed, const char *value)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned long long cidr;
	unsigned int max;
	const char *orig = value;

	memset(ip, 0, sizeof(*ip));
	*prefixed = false;
	if (*value == '+' || *value == '-') {
		ip->remove = *value == '-';
		*prefixed = true;
		++value;
	}
	if (strlen(value) >= sizeof(buf)) {
		fprintf(stderr, "Unable to parse IP address: `%s'\n", orig);
		return false;
	}
	strcpy(buf, value);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, &ip->ip6) != 1)
			goto bad_addr;
		ip->family = AF_INET6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, buf, &ip->ip4) != 1)
			goto bad_addr;
		ip->family = AF_INET;
		max = 32;
	}
	if (!slash) {
		ip->cidr = (uint8_t)max;
		return true;
	}
	if (!parse_uint(&cidr, slash, 10) || cidr > max) {
		fprintf(stderr, "AllowedIP is not in the correct format: `%s'\n", orig);
		return false;
	}
	ip->cidr = (uint8_t)cidr;
	return true;

bad_addr:
	fprintf(stderr, "Unable to parse IP address: `%s'\n", orig);
	return false;
}

bool parse_allowedips(struct wg_peer *peer, bool *incremental, const char *value)
{
	char *copy, *item, *save = NULL, *start, *end;
	struct wg_allowedip ip;
	bool prefixed, ok = true;
	size_t first = peer->n_ips;

	*incremental = false;
	if (!*value)
		return true;
	copy = strdup(value);
	if (!copy) {
		perror("strdup");
		return false;
	}
	/* strtok_r would merge ",,": walk the separators by hand so that an
	 * empty element is an error as upstream makes it. */
	for (item = copy;; item = save) {
		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		start = item;
		while (isspace((unsigned char)*start))
			++start;
		end = start + strlen(start);
		while (end > start && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!parse_allowedip(&ip, &prefixed, start)) {
			ok = false;
			break;
		}
		if (prefixed)
			*incremental = true;
		*peer_add_ip(peer) = ip;
		if (ip.remove)
			peer->flags |= PEER_HAS_REMOVALS;
		if (!save)
			break;
	}
	free(copy);
	if (!ok)
		peer->n_ips = first;
	return ok;
}

/* ---- configuration files ---- */

void config_init(struct config_ctx *ctx, struct wg_device *dev, bool append)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->dev = dev;
	ctx->peer = -1;
	ctx->append = append;
	if (!append)
		dev->flags |= DEV_REPLACE_PEERS;
}

static void mark_incremental(struct config_ctx *ctx)
{
	size_t idx = (size_t)ctx->peer;

	if (idx >= ctx->cap_incremental) {
		size_t cap = ctx->cap_incremental ? ctx->cap_incremental : 16;

		while (cap <= idx)
			cap *= 2;
		ctx->peer_incremental = xrealloc(ctx->peer_incremental, cap, 1);
		memset(ctx->peer_incremental + ctx->cap_incremental, 0, cap - ctx->cap_incremental);
		ctx->cap_incremental = cap;
	}
	ctx->peer_incremental[idx] = 1;
}

static int interface_key(struct config_ctx *ctx, const char *key, const char *value)
{
	struct wg_device *dev = ctx->dev;

	if (!strcasecmp(key, "ListenPort")) {
		if (!parse_port(&dev->listen_port, value))
			return 0;
		dev->flags |= DEV_HAS_LISTEN_PORT;
	} else if (!strcasecmp(key, "FwMark")) {
		if (!parse_fwmark(&dev->fwmark, value))
			return 0;
		dev->flags |= DEV_HAS_FWMARK;
	} else if (!strcasecmp(key, "PrivateKey")) {
		if (!parse_key(dev->private_key, value))
			return 0;
		dev->flags |= DEV_HAS_PRIVATE_KEY;
	} else {
		return -1;
	}
	return 1;
}

static int peer_key(struct config_ctx *ctx, const char *key, const char *value)
{
	struct wg_peer *peer = &ctx->dev->peers[ctx->peer];
	bool incremental;

	if (!strcasecmp(key, "PublicKey")) {
		if (!parse_key(peer->public_key, value))
			return 0;
		peer->flags |= PEER_HAS_PUBLIC_KEY;
	} else if (!strcasecmp(key, "PresharedKey")) {
		if (!parse_key(peer->preshared_key, value))
			return 0;
		peer->flags |= PEER_HAS_PRESHARED_KEY;
	} else if (!strcasecmp(key, "AllowedIPs")) {
		if (!parse_allowedips(peer, &incremental, value))
			return 0;
		if (incremental)
			mark_incremental(ctx);
	} else if (!strcasecmp(key, "Endpoint")) {
		if (!parse_endpoint(&peer->endpoint, value))
			return 0;
		peer->flags |= PEER_HAS_ENDPOINT;
	} else if (!strcasecmp(key, "PersistentKeepalive")) {
		if (!parse_keepalive(&peer->keepalive, value))
			return 0;
		peer->flags |= PEER_HAS_KEEPALIVE;
	} else {
		return -1;
	}
	return 1;
}

bool config_line(struct config_ctx *ctx, const char *line)
{
	char *clean, *eq, *value;
	size_t len = strlen(line), i, o = 0;
	int ret = -1;

	clean = malloc(len + 1);
	if (!clean) {
		perror("malloc");
		ctx->failed = true;
		return false;
	}
	/* Drop comments and every whitespace character. */
	for (i = 0; i < len && line[i] != '#'; ++i)
		if (!isspace((unsigned char)line[i]))
			clean[o++] = line[i];
	clean[o] = '\0';
	if (!o)
		goto out;

	if (clean[0] == '[') {
		if (!strcasecmp(clean, "[Interface]")) {
			ctx->section = 1;
			goto out;
		}
		if (!strcasecmp(clean, "[Peer]")) {
			struct wg_peer *peer = device_add_peer(ctx->dev);

			ctx->section = 2;
			ctx->peer = (long)(ctx->dev->n_peers - 1);
			peer->flags |= PEER_REPLACE_ALLOWEDIPS;
			goto out;
		}
		goto unrecognized;
	}
	eq = strchr(clean, '=');
	if (!eq || eq == clean)
		goto unrecognized;
	*eq = '\0';
	value = eq + 1;
	if (ctx->section == 1)
		ret = interface_key(ctx, clean, value);
	else if (ctx->section == 2)
		ret = peer_key(ctx, clean, value);
	if (ret < 0) {
		*eq = '=';
		goto unrecognized;
	}
	if (!ret)
		goto fail;
out:
	free(clean);
	return true;

unrecognized:
	fprintf(stderr, "Line unrecognized: `%s'\n", clean);
fail:
	free(clean);
	ctx->failed = true;
	return false;
}

bool config_finish(struct config_ctx *ctx)
{
	struct wg_device *dev = ctx->dev;
	size_t i;

	if (ctx->failed) {
		fputs("Configuration parsing error\n", stderr);
		goto fail;
	}
	for (i = 0; i < dev->n_peers; ++i) {
		if (!(dev->peers[i].flags & PEER_HAS_PUBLIC_KEY)) {
			fputs("A peer is missing a public key\n", stderr);
			fputs("Invalid configuration\n", stderr);
			goto fail;
		}
		if (i < ctx->cap_incremental && ctx->peer_incremental[i])
			dev->peers[i].flags &= ~PEER_REPLACE_ALLOWEDIPS;
	}
	free(ctx->peer_incremental);
	ctx->peer_incremental = NULL;
	return true;
fail:
	free(ctx->peer_incremental);
	ctx->peer_incremental = NULL;
	return false;
}

bool config_read_file(struct wg_device *dev, const char *path, bool append)
{
	struct config_ctx ctx;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	bool ok = true;

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		perror("fopen");
		return false;
	}
	config_init(&ctx, dev, append);
	while (getline(&line, &cap, f) >= 0) {
		if (!config_line(&ctx, line)) {
			ok = false;
			break;
		}
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (!ok)
		ctx.failed = true;
	return config_finish(&ctx);
}

/* ---- `wg set' arguments ---- */

bool config_parse_set(struct wg_device *dev, int argc, char *argv[])
{
	struct wg_peer *peer = NULL;
	bool is_zero, incremental;
	int i;

	for (i = 0; i < argc; ++i) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (!peer && !strcmp(opt, "listen-port") && arg) {
			if (!parse_port(&dev->listen_port, arg))
				return false;
			dev->flags |= DEV_HAS_LISTEN_PORT;
			++i;
		} else if (!peer && !strcmp(opt, "fwmark") && arg) {
			if (!parse_fwmark(&dev->fwmark, arg))
				return false;
			dev->flags |= DEV_HAS_FWMARK;
			++i;
		} else if (!peer && !strcmp(opt, "private-key") && arg) {
			if (!parse_key_file(dev->private_key, &is_zero, arg))
				return false;
			dev->flags |= DEV_HAS_PRIVATE_KEY;
			++i;
		} else if (!strcmp(opt, "peer") && arg) {
			peer = device_add_peer(dev);
			if (!parse_key(peer->public_key, arg))
				return false;
			peer->flags |= PEER_HAS_PUBLIC_KEY;
			++i;
		} else if (peer && !strcmp(opt, "remove")) {
			peer->flags |= PEER_REMOVE;
		} else if (peer && !strcmp(opt, "endpoint") && arg) {
			if (!parse_endpoint(&peer->endpoint, arg))
				return false;
			peer->flags |= PEER_HAS_ENDPOINT;
			++i;
		} else if (peer && !strcmp(opt, "allowed-ips") && arg) {
			if (!parse_allowedips(peer, &incremental, arg))
				return false;
			if (!incremental)
				peer->flags |= PEER_REPLACE_ALLOWEDIPS;
			++i;
		} else if (peer && !strcmp(opt, "persistent-keepalive") && arg) {
			if (!parse_keepalive(&peer->keepalive, arg))
				return false;
			peer->flags |= PEER_HAS_KEEPALIVE;
			++i;
		} else if (peer && !strcmp(opt, "preshared-key") && arg) {
			if (!parse_key_file(peer->preshared_key, &is_zero, arg))
				return false;
			peer->flags |= PEER_HAS_PRESHARED_KEY;
			++i;
		} else {
			fprintf(stderr, "Invalid argument: %s\n", opt);
			return false;
		}
	}
	return true;
}
