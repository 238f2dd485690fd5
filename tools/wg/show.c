// SPDX-License-Identifier: GPL-2.0
/* `wg show': the pretty view for people, and one field at a time for scripts. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "containers.h"
#include "encoding.h"
#include "fmt.h"
#include "ipc.h"
#include "subcommands.h"
#include "terminal.h"

void report_ipc_error(const char *what, const char *name, int err)
{
	if (ipc_error_detail[0])
		fprintf(stderr, "Unable to %s interface %s: %s (kernel: %s)\n", what, name, strerror(err), ipc_error_detail);
	else
		fprintf(stderr, "Unable to %s interface %s: %s\n", what, name, strerror(err));
}

static int peer_order(const struct wg_peer *a, const struct wg_peer *b)
{
	bool a_never = !a->handshake_sec && !a->handshake_nsec, b_never = !b->handshake_sec && !b->handshake_nsec;

	if (a_never != b_never)
		return a_never ? 1 : -1;
	if (a->handshake_sec != b->handshake_sec)
		return a->handshake_sec > b->handshake_sec ? -1 : 1;
	if (a->handshake_nsec != b->handshake_nsec)
		return a->handshake_nsec > b->handshake_nsec ? -1 : 1;
	return 0;
}

void sort_peers(struct wg_device *dev)
{
	struct wg_peer *tmp, *src, *dst, *swap;
	size_t n = dev->n_peers, width, lo, mid, hi, i, j, k;

	if (n < 2)
		return;
	/* Bottom-up merge sort: stable, so equal peers keep device order. */
	tmp = xrealloc(NULL, n, sizeof(*tmp));
	src = dev->peers;
	dst = tmp;
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = lo + 2 * width < n ? lo + 2 * width : n;
			for (i = lo, j = mid, k = lo; k < hi; ++k)
				dst[k] = (i < mid && (j >= hi || peer_order(&src[i], &src[j]) <= 0)) ? src[i++] : src[j++];
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != dev->peers) {
		memcpy(dev->peers, src, n * sizeof(*tmp));
		free(src);
	} else {
		free(tmp);
	}
}

static const char *key_text(char buf[WG_KEY_B64_LEN], const uint8_t *key, bool have)
{
	if (!have)
		return "(none)";
	key_to_base64(buf, key);
	return buf;
}

static bool hide_keys(void)
{
	const char *env = getenv("WG_HIDE_KEYS");

	return !env || strcmp(env, "never");
}

static void pretty_print(const struct wg_device *dev)
{
	char key[WG_KEY_B64_LEN], buf[512];
	size_t i, j;

	terminal_printf(TERM_RESET TERM_GREEN TERM_BOLD "interface" TERM_RESET ": " TERM_GREEN "%s" TERM_RESET "\n", dev->name);
	if (dev->flags & DEV_HAS_PUBLIC_KEY)
		terminal_printf("  " TERM_BOLD "public key" TERM_RESET ": %s\n", key_text(key, dev->public_key, true));
	if (dev->flags & DEV_HAS_PRIVATE_KEY)
		terminal_printf("  " TERM_BOLD "private key" TERM_RESET ": %s\n",
				hide_keys() ? "(hidden)" : key_text(key, dev->private_key, true));
	if (dev->listen_port)
		terminal_printf("  " TERM_BOLD "listening port" TERM_RESET ": %u\n", dev->listen_port);
	if (dev->fwmark)
		terminal_printf("  " TERM_BOLD "fwmark" TERM_RESET ": 0x%x\n", dev->fwmark);
	for (i = 0; i < dev->n_peers; ++i) {
		const struct wg_peer *peer = &dev->peers[i];

		terminal_printf("\n" TERM_YELLOW TERM_BOLD "peer" TERM_RESET ": " TERM_YELLOW "%s" TERM_RESET "\n",
				key_text(key, peer->public_key, true));
		if (peer->flags & PEER_HAS_PRESHARED_KEY)
			terminal_printf("  " TERM_BOLD "preshared key" TERM_RESET ": %s\n",
					hide_keys() ? "(hidden)" : key_text(key, peer->preshared_key, true));
		if (peer->flags & PEER_HAS_ENDPOINT)
			terminal_printf("  " TERM_BOLD "endpoint" TERM_RESET ": %s\n", fmt_endpoint(buf, sizeof(buf), &peer->endpoint));
		terminal_printf("  " TERM_BOLD "allowed ips" TERM_RESET ": ");
		if (!peer->n_ips)
			terminal_printf("(none)");
		for (j = 0; j < peer->n_ips; ++j)
			terminal_printf("%s%s", j ? ", " : "", fmt_allowedip(buf, sizeof(buf), &peer->ips[j], 1));
		terminal_printf("\n");
		if (peer->handshake_sec)
			terminal_printf("  " TERM_BOLD "latest handshake" TERM_RESET ": %s\n",
					fmt_ago(buf, sizeof(buf), peer->handshake_sec, (int64_t)time(NULL)));
		if (peer->rx_bytes || peer->tx_bytes) {
			char rx[64], tx[64];

			terminal_printf("  " TERM_BOLD "transfer" TERM_RESET ": %s received, %s sent\n",
					fmt_bytes(rx, sizeof(rx), peer->rx_bytes), fmt_bytes(tx, sizeof(tx), peer->tx_bytes));
		}
		if (peer->keepalive)
			terminal_printf("  " TERM_BOLD "persistent keepalive" TERM_RESET ": %s\n", fmt_every(buf, sizeof(buf), peer->keepalive));
	}
}

static void print_ips(const struct wg_peer *peer, char sep)
{
	char buf[128];
	size_t j;

	if (!peer->n_ips)
		fputs("(none)", stdout);
	for (j = 0; j < peer->n_ips; ++j) {
		if (j)
			putchar(sep);
		fputs(fmt_allowedip(buf, sizeof(buf), &peer->ips[j], 0), stdout);
	}
}

static void print_endpoint(const struct wg_peer *peer)
{
	char buf[128];

	fputs(peer->flags & PEER_HAS_ENDPOINT ? fmt_endpoint(buf, sizeof(buf), &peer->endpoint) : "(none)", stdout);
}

/*
 * `wg show IFACE FIELD': one printer per field, for scripts.  pre is "" for
 * one interface, "NAME\t" for `show all'.  Keys are base64, "(none)" when
 * absent; lists are one line per peer, starting with its public key.
 */
static const char *peer_key(char buf[WG_KEY_B64_LEN], const struct wg_peer *peer)
{
	return key_text(buf, peer->public_key, true);
}

static void print_keepalive(uint16_t seconds)
{
	if (seconds)
		printf("%u\n", seconds);
	else
		puts("off");
}

static void print_fwmark(uint32_t fwmark)
{
	if (fwmark)
		printf("0x%x\n", fwmark);
	else
		puts("off");
}

static void show_public_key(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];

	printf("%s%s\n", pre, key_text(key, dev->public_key, dev->flags & DEV_HAS_PUBLIC_KEY));
}

static void show_private_key(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];

	printf("%s%s\n", pre, key_text(key, dev->private_key, dev->flags & DEV_HAS_PRIVATE_KEY));
}

static void show_listen_port(const struct wg_device *dev, const char *pre)
{
	printf("%s%u\n", pre, dev->listen_port);
}

static void show_fwmark(const struct wg_device *dev, const char *pre)
{
	fputs(pre, stdout);
	print_fwmark(dev->fwmark);
}

static void show_peers(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i)
		printf("%s%s\n", pre, peer_key(key, &dev->peers[i]));
}

static void show_preshared_keys(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN], psk[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i) {
		const struct wg_peer *peer = &dev->peers[i];

		printf("%s%s\t%s\n", pre, peer_key(key, peer),
		       key_text(psk, peer->preshared_key, peer->flags & PEER_HAS_PRESHARED_KEY));
	}
}

static void show_endpoints(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i) {
		const struct wg_peer *peer = &dev->peers[i];

		/* Upstream prints the interface column only for peers with an
		 * IPv4 endpoint; we match it byte for byte. */
		if ((peer->flags & PEER_HAS_ENDPOINT) && peer->endpoint.addr.sa_family == AF_INET)
			fputs(pre, stdout);
		printf("%s\t", peer_key(key, peer));
		print_endpoint(peer);
		putchar('\n');
	}
}

static void show_allowed_ips(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i) {
		printf("%s%s\t", pre, peer_key(key, &dev->peers[i]));
		print_ips(&dev->peers[i], ' ');
		putchar('\n');
	}
}

static void show_latest_handshakes(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i)
		printf("%s%s\t%" PRId64 "\n", pre, peer_key(key, &dev->peers[i]), dev->peers[i].handshake_sec);
}

static void show_transfer(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i)
		printf("%s%s\t%" PRIu64 "\t%" PRIu64 "\n", pre, peer_key(key, &dev->peers[i]),
		       dev->peers[i].rx_bytes, dev->peers[i].tx_bytes);
}

static void show_persistent_keepalive(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	for (i = 0; i < dev->n_peers; ++i) {
		printf("%s%s\t", pre, peer_key(key, &dev->peers[i]));
		print_keepalive(dev->peers[i].keepalive);
	}
}

/* Everything: a line for the interface, then one per peer. */
static void show_dump(const struct wg_device *dev, const char *pre)
{
	char key[WG_KEY_B64_LEN];
	size_t i;

	printf("%s%s\t", pre, key_text(key, dev->private_key, dev->flags & DEV_HAS_PRIVATE_KEY));
	printf("%s\t%u\t", key_text(key, dev->public_key, dev->flags & DEV_HAS_PUBLIC_KEY), dev->listen_port);
	print_fwmark(dev->fwmark);
	for (i = 0; i < dev->n_peers; ++i) {
		const struct wg_peer *peer = &dev->peers[i];

		printf("%s%s\t", pre, peer_key(key, peer));
		printf("%s\t", key_text(key, peer->preshared_key, peer->flags & PEER_HAS_PRESHARED_KEY));
		print_endpoint(peer);
		putchar('\t');
		print_ips(peer, ',');
		printf("\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t", peer->handshake_sec, peer->rx_bytes, peer->tx_bytes);
		print_keepalive(peer->keepalive);
	}
}

static const struct show_field {
	const char *name;
	void (*print)(const struct wg_device *dev, const char *pre);
} show_fields[] = {
	{ "public-key", show_public_key },
	{ "private-key", show_private_key },
	{ "listen-port", show_listen_port },
	{ "fwmark", show_fwmark },
	{ "peers", show_peers },
	{ "preshared-keys", show_preshared_keys },
	{ "endpoints", show_endpoints },
	{ "allowed-ips", show_allowed_ips },
	{ "latest-handshakes", show_latest_handshakes },
	{ "transfer", show_transfer },
	{ "persistent-keepalive", show_persistent_keepalive },
	{ "dump", show_dump },
};

static const struct show_field *find_field(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(show_fields) / sizeof(show_fields[0]); ++i)
		if (!strcmp(name, show_fields[i].name))
			return &show_fields[i];
	return NULL;
}

static void print_field(const struct wg_device *dev, const struct show_field *field, bool with_name)
{
	char pre[IFNAMSIZ + 1] = "";

	if (with_name)
		snprintf(pre, sizeof(pre), "%s\t", dev->name);
	field->print(dev, pre);
}

int cmd_show(int argc, char *argv[], int variant)
{
	const struct show_field *field = NULL;
	char *list, *name;
	int ret = 0, err;

	(void)variant;
	if (argc == 3) {
		field = find_field(argv[2]);
		if (!field || !strcmp(argv[1], "interfaces")) {
			fprintf(stderr, "Invalid parameter: `%s'\n", argv[2]);
			return CMD_USAGE;
		}
	}
	if (argc >= 2 && !strcmp(argv[1], "--help"))
		return CMD_HELP;

	if (argc == 1 || !strcmp(argv[1], "all") || !strcmp(argv[1], "interfaces")) {
		bool interfaces = argc >= 2 && !strcmp(argv[1], "interfaces"), first = true;

		list = ipc_list_devices();
		if (!list) {
			perror("Unable to list interfaces");
			return 1;
		}
		for (name = list; *name; name += strlen(name) + 1) {
			struct wg_device dev = { 0 };

			if (interfaces) {
				printf("%s%s", first ? "" : " ", name);
				first = false;
				continue;
			}
			err = ipc_get_device(&dev, name);
			if (err) {
				report_ipc_error("access", name, -err);
				ret = 1;
				continue;
			}
			if (field) {
				print_field(&dev, field, true);
			} else {
				if (!first)
					putchar('\n');
				sort_peers(&dev);
				pretty_print(&dev);
			}
			first = false;
			device_free(&dev);
		}
		if (interfaces && !first)
			putchar('\n');
		free(list);
		fflush(stdout);
		return ret;
	}

	{
		struct wg_device dev = { 0 };

		err = ipc_get_device(&dev, argv[1]);
		if (err) {
			report_ipc_error("access", argv[1], -err);
			return 1;
		}
		if (field) {
			print_field(&dev, field, false);
		} else {
			sort_peers(&dev);
			pretty_print(&dev);
		}
		device_free(&dev);
	}
	fflush(stdout);
	return 0;
}
