/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device's UDP sockets (IPv4 and IPv6), in the namespace the device was
 * created in, and the outer layer of every message we send.
 */
#ifndef _WG_SOCKET_H
#define _WG_SOCKET_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>

struct wg_device;
struct wg_peer;

/* Opens both sockets on @port (0: a random one, the same for both). */
int wg_socket_open(struct wg_device *wg, u16 port);
/* Publishes new sockets (NULL closes), releasing the old ones after RCU. */
void wg_socket_swap(struct wg_device *wg, struct sock *new4,
		    struct sock *new6);

/*
 * To the peer's active endpoint (endpoint.c).  Each consumes @skb, or its
 * copy of @data, whatever happens, and returns 0 or why it was dropped.
 */
int wg_socket_send(struct wg_peer *peer, struct sk_buff *skb, u8 ds);
int wg_socket_send_copy(struct wg_peer *peer, const void *data, size_t len,
			u8 ds);
/* Answers the sender of @in_skb (a cookie reply), from where it came to. */
int wg_socket_reply(struct wg_device *wg, const struct sk_buff *in_skb,
		    const void *data, size_t len);

#endif /* _WG_SOCKET_H */
