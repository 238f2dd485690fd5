// SPDX-License-Identifier: GPL-2.0
/* `wg set': parse every argument first, then apply in one go. */
#include <stdio.h>
#include <string.h>
#include "apply.h"
#include "config.h"
#include "ipc.h"
#include "subcommands.h"

/* Rough size of the netlink encoding, to know whether it fits one message. */
static size_t estimated_size(const struct wg_device *dev)
{
	size_t i, n = 256;

	for (i = 0; i < dev->n_peers; ++i)
		n += 160 + dev->peers[i].n_ips * 48;
	return n;
}

int cmd_set(int argc, char *argv[], int variant)
{
	struct wg_device want = { 0 };
	bool removals = false, replaces = false;
	size_t i;
	int ret = 1, err;

	(void)variant;
	snprintf(want.name, sizeof(want.name), "%s", argv[1]);
	if (strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "Interface name too long: `%s'\n", argv[1]);
		return 1;
	}
	if (!config_parse_set(&want, argc - 2, argv + 2))
		goto out;
	for (i = 0; i < want.n_peers; ++i) {
		if (want.peers[i].flags & PEER_HAS_REMOVALS)
			removals = true;
		if ((want.peers[i].flags & PEER_REPLACE_ALLOWEDIPS) && !(want.peers[i].flags & PEER_REMOVE))
			replaces = true;
	}
	/* A REPLACE that must be cut into several messages would leave the
	 * peer without its prefixes in between: use the engine instead. */
	if (replaces && !uapi_has_device(want.name) && estimated_size(&want) > WG_NLMSG_PAYLOAD_MAX) {
		ret = apply_incremental(&want, SYNC_SET);
		goto out;
	}
	if (removals && require_removal_support(want.name))
		goto out;
	err = ipc_set_device(&want);
	if (err) {
		report_ipc_error("modify", want.name, -err);
		goto out;
	}
	ret = 0;
out:
	device_free(&want);
	return ret;
}
