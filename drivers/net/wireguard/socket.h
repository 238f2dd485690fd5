/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device's UDP sockets (IPv4 and IPv6), in the namespace the device was
 * created in, and sending to a peer's endpoint with a cached route.
 */
#ifndef _WG_SOCKET_H
#define _WG_SOCKET_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>

struct wg_device;
struct wg_peer;
struct endpoint;

/* Opens both sockets on @port (0: a random one, the same for both). */
int wg_socket_init(struct wg_device *wg, u16 port);
/* Publishes new sockets (NULL closes), releasing the old ones after RCU. */
void wg_socket_reinit(struct wg_device *wg, struct sock *new4,
		      struct sock *new6);

/* Consume @skb (a WireGuard message) whatever happens. */
int wg_socket_send_skb_to_peer(struct wg_peer *peer, struct sk_buff *skb,
			       u8 ds);
int wg_socket_send_buffer_to_peer(struct wg_peer *peer, void *data,
				  size_t len, u8 ds);
/* Answers the sender of @in_skb (a cookie reply). */
int wg_socket_send_buffer_as_reply_to_skb(struct wg_device *wg,
					  struct sk_buff *in_skb,
					  void *out_buffer, size_t len);

/* The source of a received message as an endpoint, and our local address. */
int wg_socket_endpoint_from_skb(struct endpoint *endpoint,
				const struct sk_buff *skb);
/* Roaming: the peer is now at @endpoint (a no-op when unchanged). */
void wg_socket_set_peer_endpoint(struct wg_peer *peer,
				 const struct endpoint *endpoint);
void wg_socket_set_peer_endpoint_from_skb(struct wg_peer *peer,
					  const struct sk_buff *skb);
/* Forget the local source address; the next send picks a new one. */
void wg_socket_clear_peer_endpoint_src(struct wg_peer *peer);
/* The same for every peer, after a listen port change (device_update_lock). */
void wg_socket_clear_all_endpoint_srcs(struct wg_device *wg);

#endif /* _WG_SOCKET_H */
