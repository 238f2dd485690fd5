/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces that differ between the releases we build for
 * out of tree (6.1, 6.12 and the newest, 7.x).  The driver is written
 * against the newest interface; for older kernels this file maps it onto
 * theirs.  In a kernel tree this file can go.
 */
#ifndef _WG_COMPAT_H
#define _WG_COMPAT_H

#include <linux/version.h>
#include <linux/netdevice.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <crypto/blake2s.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/rtnetlink.h>
#include <net/udp_tunnel.h>
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
#include <net/gso.h>	/* skb_gso_segment(), in netdevice.h before */
#endif

/*
 * Since 6.17 a workqueue says whether it is per-CPU; the newest kernels warn
 * when it says neither that nor WQ_UNBOUND.  Before, per-CPU was the default.
 */
#if KERNEL_VERSION(6, 17, 0) > LINUX_VERSION_CODE
#define WQ_PERCPU 0
#endif

/* from_timer() was renamed in 6.16. */
#if KERNEL_VERSION(6, 16, 0) > LINUX_VERSION_CODE
#define timer_container_of(var, timer, field) from_timer(var, timer, field)
#endif

/*
 * 6.19 renamed the BLAKE2s state and put blake2s()'s arguments in
 * key, input, output order.  (A macro's own name is not expanded again in
 * its body: this calls the old function.)
 */
#if KERNEL_VERSION(6, 19, 0) > LINUX_VERSION_CODE
#define blake2s_ctx blake2s_state
#define blake2s(key, keylen, in, inlen, out, outlen) \
	blake2s(out, in, key, outlen, inlen, keylen)
#endif

/*
 * Changes we place at 7.0: Debian's archive has no headers between 6.12 and
 * 7.2, and only the builds for 6.1, 6.12 and 7.3 are checked.
 *
 * IPv6 can no longer be a module, and ipv6_stubs.h is gone: before, the
 * route lookup went through the stub that built-in IPv6 or ipv6.ko filled
 * in, so that a module did not depend on ipv6.ko.
 *
 * The UDP tunnel helpers take the struct sock, and their transmit functions
 * the IP control block flags to set (we set none).
 */
#if KERNEL_VERSION(7, 0, 0) > LINUX_VERSION_CODE
#include <net/ipv6_stubs.h>
#define ip6_dst_lookup_flow(net, sk, fl6, final_dst) \
	ipv6_stub->ipv6_dst_lookup_flow(net, sk, fl6, final_dst)
#define setup_udp_tunnel_sock(net, sk, cfg) \
	setup_udp_tunnel_sock(net, (sk)->sk_socket, cfg)
#define udp_tunnel_sock_release(sk) udp_tunnel_sock_release((sk)->sk_socket)
#define udp_tunnel_xmit_skb(rt, sk, skb, src, dst, tos, ttl, df, sport,	\
			    dport, xnet, nocheck, ipcb_flags) ({		\
	BUILD_BUG_ON(ipcb_flags);	/* nowhere to put them */	\
	udp_tunnel_xmit_skb(rt, sk, skb, src, dst, tos, ttl, df, sport,	\
			    dport, xnet, nocheck);			\
})
#define udp_tunnel6_xmit_skb(dst, sk, skb, dev, saddr, daddr, prio, ttl, \
			     label, sport, dport, nocheck, ip6cb_flags) ({ \
	BUILD_BUG_ON(ip6cb_flags);					\
	udp_tunnel6_xmit_skb(dst, sk, skb, dev, saddr, daddr, prio, ttl, \
			     label, sport, dport, nocheck);		\
})
#endif

/*
 * Since 6.15 rtnl_link_ops.newlink() takes the namespaces and attributes
 * in one struct.  A driver writes its newlink() that way and puts
 * WG_COMPAT_NEWLINK(fn) after it; .newlink = wg_compat_newlink(fn).
 */
#if KERNEL_VERSION(6, 15, 0) > LINUX_VERSION_CODE
struct rtnl_newlink_params {
	struct net *src_net;
	struct nlattr **tb;
	struct nlattr **data;
};

/* The old form of the call, passed on in the new one. */
#define WG_COMPAT_NEWLINK(fn)						\
static int fn##_compat(struct net *src_net, struct net_device *dev,	\
		       struct nlattr *tb[], struct nlattr *data[],	\
		       struct netlink_ext_ack *extack)			\
{									\
	struct rtnl_newlink_params params = {				\
		.src_net = src_net, .tb = tb, .data = data,		\
	};								\
	return fn(dev, &params, extack);				\
}

#define wg_compat_newlink(fn) fn##_compat
#else
/* Nothing to adapt: only check that fn has the form the above assumes. */
#define WG_COMPAT_NEWLINK(fn)						\
	static_assert(__same_type(&(fn), int (*)(struct net_device *,	\
		      struct rtnl_newlink_params *, struct netlink_ext_ack *)))
#define wg_compat_newlink(fn) fn
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
