// SPDX-License-Identifier: GPL-2.0
/*
 * `wg setconf', `wg addconf' and `wg syncconf'.  All three read the running
 * state and apply only the difference (see sync.c), so peers and prefixes
 * that are in both the running state and the file are never disturbed.
 */
#include <stdio.h>
#include <string.h>
#include "apply.h"
#include "config.h"
#include "subcommands.h"

int cmd_conf(int argc, char *argv[], int variant)
{
	enum sync_mode mode = (enum sync_mode)variant;
	struct wg_device want = { 0 };
	int ret;

	(void)argc;
	if (strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "Interface name too long: `%s'\n", argv[1]);
		return 1;
	}
	if (!config_read_file(&want, argv[2], mode == SYNC_ADDCONF)) {
		device_free(&want);
		return 1;
	}
	snprintf(want.name, sizeof(want.name), "%s", argv[1]);
	want.flags &= ~DEV_REPLACE_PEERS;	/* the engine removes peers itself */
	ret = apply_incremental(&want, mode);
	device_free(&want);
	return ret;
}
