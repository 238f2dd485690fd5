/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces that differ between the releases we build for
 * out of tree (6.1 and 6.12).  In a kernel tree only the newest branch of
 * each is ever used, and this file can go.
 */
#ifndef _WG_COMPAT_H
#define _WG_COMPAT_H

#include <linux/version.h>
#include <linux/netdevice.h>
#include <net/genetlink.h>
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
#include <net/gso.h>	/* skb_gso_segment(), in netdevice.h before */
#endif

static inline void wg_compat_set_lltx(struct net_device *dev)
{
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
	dev->lltx = true;
#else
	dev->features |= NETIF_F_LLTX;
#endif
}

/* The attributes the generic netlink core parsed for a dump request. */
static inline struct nlattr **wg_compat_dump_attrs(struct netlink_callback *cb)
{
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _WG_COMPAT_H */
