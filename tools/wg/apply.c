// SPDX-License-Identifier: GPL-2.0
/* Glue between the parsers, the sync engine and the backends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "apply.h"
#include "ipc.h"
#include "subcommands.h"

const char removal_unsupported_msg[] =
	"kernel does not support removing allowed IPs (WGALLOWEDIP_F_REMOVE_ME); needs Linux 6.16 or this project's module";

int require_removal_support(const char *name)
{
	int r = ipc_removal_supported(name);

	if (r < 0) {
		report_ipc_error("access", name, -r);
		return 1;
	}
	if (!r) {
		if (uapi_has_device(name))
			fprintf(stderr, "Unable to modify interface %s: the userspace implementation does not support removing single allowed IPs (remove_allowed_ip)\n", name);
		else
			fprintf(stderr, "Unable to modify interface %s: %s\n", name, removal_unsupported_msg);
		return 1;
	}
	return 0;
}

static bool change_is_empty(const struct wg_device *d)
{
	return !d->n_peers && !(d->flags & (DEV_HAS_PRIVATE_KEY | DEV_HAS_LISTEN_PORT | DEV_HAS_FWMARK | DEV_REPLACE_PEERS));
}

int apply_incremental(const struct wg_device *want, enum sync_mode mode)
{
	struct wg_device cur = { 0 }, out = { 0 };
	size_t removals;
	int err, r;

	err = ipc_get_device(&cur, want->name);
	if (err) {
		report_ipc_error("access", want->name, -err);
		return 1;
	}
	removals = sync_compute(&out, &cur, want, mode, true);
	if (removals) {
		r = ipc_removal_supported(want->name);
		if (r < 0) {
			report_ipc_error("access", want->name, -r);
			goto fail;
		}
		if (!r) {
			bool explicit_removals = false;
			size_t i;

			for (i = 0; i < want->n_peers; ++i)
				if (want->peers[i].flags & PEER_HAS_REMOVALS)
					explicit_removals = true;
			if (explicit_removals) {
				fprintf(stderr, "Unable to modify interface %s: %s\n", want->name, removal_unsupported_msg);
				goto fail;
			}
			device_free(&out);
			sync_compute(&out, &cur, want, mode, false);
		}
	}
	if (!change_is_empty(&out)) {
		err = ipc_set_device(&out);
		if (err) {
			report_ipc_error("modify", want->name, -err);
			goto fail;
		}
	}
	device_free(&cur);
	device_free(&out);
	return 0;
fail:
	device_free(&cur);
	device_free(&out);
	return 1;
}
