// SPDX-License-Identifier: GPL-2.0
/*
 * Module entry: register the caches, the link kind and the netlink family,
 * after running the self-tests of a debug build.
 */
#include <linux/module.h>
#include <net/genetlink.h>
#include <net/rtnetlink.h>

#include <uapi/linux/wireguard.h>

#include "allowedips.h"
#include "device.h"
#include "netlink.h"
#include "noise.h"
#include "peer.h"
#include "ratelimiter.h"
#include "timers.h"
#include "version.h"

/*
 * The module comes up in stages and goes down in the reverse order, from
 * wherever it got to: one list of stages serves loading, a failed load and
 * unloading alike.
 */
enum wg_stage {
	WG_STAGE_NONE,
	WG_STAGE_ALLOWEDIPS,	/* the trie's slab caches */
	WG_STAGE_SELFTESTS,	/* a debug build refuses to load if one fails */
	WG_STAGE_PEERS,		/* the peer cache */
	WG_STAGE_DEVICES,	/* the link kind and the namespace hook */
	WG_STAGE_NETLINK,	/* the generic netlink family: configurable */
	WG_STAGE_ALL = WG_STAGE_NETLINK
};

static int __init wg_selftests(void)
{
#ifdef CONFIG_WIREGUARD_DEBUG
	if (!wg_allowedips_selftest() || !wg_noise_counter_selftest() ||
	    !wg_ratelimiter_selftest() || !wg_noise_handshake_selftest() ||
	    !wg_timers_selftest())
		return -ENOTRECOVERABLE;
#endif
	return 0;
}

static int __init wg_stage_up(enum wg_stage stage)
{
	switch (stage) {
	case WG_STAGE_ALLOWEDIPS:
		return wg_allowedips_slab_init();
	case WG_STAGE_SELFTESTS:
		return wg_selftests();
	case WG_STAGE_PEERS:
		return wg_peer_init();
	case WG_STAGE_DEVICES:
		return wg_device_init();
	case WG_STAGE_NETLINK:
		return wg_genetlink_init();
	default:
		return 0;
	}
}

/* Takes down @reached and every stage below it. */
static void wg_stages_down(enum wg_stage reached)
{
	switch (reached) {
	case WG_STAGE_NETLINK:
		wg_genetlink_uninit();
		fallthrough;
	case WG_STAGE_DEVICES:
		wg_device_uninit();
		fallthrough;
	case WG_STAGE_PEERS:
		wg_peer_uninit();
		fallthrough;
	case WG_STAGE_SELFTESTS:	/* nothing to undo */
	case WG_STAGE_ALLOWEDIPS:
		wg_allowedips_slab_uninit();
		fallthrough;
	case WG_STAGE_NONE:
		break;
	}
}

static int __init wg_mod_init(void)
{
	enum wg_stage stage;
	int ret;

	wg_noise_init();
	for (stage = WG_STAGE_NONE + 1; stage <= WG_STAGE_ALL; stage++) {
		ret = wg_stage_up(stage);
		if (ret < 0) {
			wg_stages_down(stage - 1);
			return ret;
		}
	}
	pr_info("WireGuard " WIREGUARD_VERSION " loaded\n");
	return 0;
}

static void __exit wg_mod_exit(void)
{
	wg_stages_down(WG_STAGE_ALL);
}

module_init(wg_mod_init);
module_exit(wg_mod_exit);
MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("WireGuard secure network tunnel");
MODULE_VERSION(WIREGUARD_VERSION);
MODULE_ALIAS_RTNL_LINK(KBUILD_MODNAME);
MODULE_ALIAS_GENL_FAMILY(WG_GENL_NAME);
