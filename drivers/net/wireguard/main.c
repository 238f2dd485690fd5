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

static int __init wg_mod_init(void)
{
	int ret;

	wg_noise_init();
	ret = wg_allowedips_slab_init();
	if (ret < 0)
		return ret;
	ret = wg_selftests();
	if (ret < 0)
		goto err_allowedips;
	ret = wg_peer_init();
	if (ret < 0)
		goto err_allowedips;
	ret = wg_device_init();
	if (ret < 0)
		goto err_peer;
	ret = wg_genetlink_init();
	if (ret < 0)
		goto err_device;

	pr_info("WireGuard " WIREGUARD_VERSION " loaded\n");
	return 0;

err_device:
	wg_device_uninit();
err_peer:
	wg_peer_uninit();
err_allowedips:
	wg_allowedips_slab_uninit();
	return ret;
}

static void __exit wg_mod_exit(void)
{
	wg_genetlink_uninit();
	wg_device_uninit();
	wg_peer_uninit();
	wg_allowedips_slab_uninit();
}

module_init(wg_mod_init);
module_exit(wg_mod_exit);
MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("WireGuard secure network tunnel");
MODULE_VERSION(WIREGUARD_VERSION);
MODULE_ALIAS_RTNL_LINK(KBUILD_MODNAME);
MODULE_ALIAS_GENL_FAMILY(WG_GENL_NAME);
