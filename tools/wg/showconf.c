// SPDX-License-Identifier: GPL-2.0
/* `wg showconf': the running configuration in config-file form. */
#include <stdio.h>
#include "containers.h"
#include "encoding.h"
#include "fmt.h"
#include "ipc.h"
#include "subcommands.h"

int cmd_showconf(int argc, char *argv[], int variant)
{
	struct wg_device dev = { 0 };
	char key[WG_KEY_B64_LEN], buf[128];
	size_t i, j;
	int err;

	(void)argc;
	(void)variant;
	err = ipc_get_device(&dev, argv[1]);
	if (err) {
		report_ipc_error("access", argv[1], -err);
		return 1;
	}
	printf("[Interface]\n");
	if (dev.listen_port)
		printf("ListenPort = %u\n", dev.listen_port);
	if (dev.fwmark)
		printf("FwMark = 0x%x\n", dev.fwmark);
	if (dev.flags & DEV_HAS_PRIVATE_KEY) {
		key_to_base64(key, dev.private_key);
		printf("PrivateKey = %s\n", key);
	}
	for (i = 0; i < dev.n_peers; ++i) {
		const struct wg_peer *peer = &dev.peers[i];

		key_to_base64(key, peer->public_key);
		printf("\n[Peer]\nPublicKey = %s\n", key);
		if (peer->flags & PEER_HAS_PRESHARED_KEY) {
			key_to_base64(key, peer->preshared_key);
			printf("PresharedKey = %s\n", key);
		}
		if (peer->n_ips) {
			fputs("AllowedIPs = ", stdout);
			for (j = 0; j < peer->n_ips; ++j)
				printf("%s%s", j ? ", " : "", fmt_allowedip(buf, sizeof(buf), &peer->ips[j], 0));
			putchar('\n');
		}
		if (peer->flags & PEER_HAS_ENDPOINT)
			printf("Endpoint = %s\n", fmt_endpoint(buf, sizeof(buf), &peer->endpoint));
		if (peer->keepalive)
			printf("PersistentKeepalive = %u\n", peer->keepalive);
	}
	device_free(&dev);
	fflush(stdout);
	return 0;
}
