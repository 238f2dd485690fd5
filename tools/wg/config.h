/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_CONFIG_H
#define WG_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "containers.h"

/* Config-file parsing, one line at a time (so a fuzzer can drive it). */
struct config_ctx {
	struct wg_device *dev;
	long peer;		/* index of the peer being filled, -1 if none */
	int section;		/* 0: none yet, 1: [Interface], 2: [Peer] */
	bool append;		/* addconf: no REPLACE_PEERS */
	bool failed;
	unsigned char *peer_incremental;	/* per peer: saw +/- in AllowedIPs */
	size_t cap_incremental;
};

void config_init(struct config_ctx *ctx, struct wg_device *dev, bool append);
bool config_line(struct config_ctx *ctx, const char *line);
/* Finishes parsing; false (with a message) if the config is invalid. */
bool config_finish(struct config_ctx *ctx);
/* Reads a whole file (path "-" is stdin). */
bool config_read_file(struct wg_device *dev, const char *path, bool append);
/* Parses the arguments of `wg set IFACE ...' (argv starts after IFACE). */
bool config_parse_set(struct wg_device *dev, int argc, char *argv[]);

/* Value parsers, each printing upstream-style messages on failure. */
bool parse_key(uint8_t key[WG_KEY_SIZE], const char *value);
bool parse_key_file(uint8_t key[WG_KEY_SIZE], bool *is_zero, const char *path);
bool parse_port(uint16_t *port, const char *value);
bool parse_fwmark(uint32_t *mark, const char *value);
bool parse_keepalive(uint16_t *interval, const char *value);
bool parse_endpoint(union wg_endpoint *ep, const char *value);
/* "[+|-]addr[/cidr]" into ip; *prefixed tells whether a +/- was given. */
bool parse_allowedip(struct wg_allowedip *ip, bool *prefixed, const char *value);
/* Comma list; appends to peer; *incremental set if any entry had +/-. */
bool parse_allowedips(struct wg_peer *peer, bool *incremental, const char *value);

#endif
