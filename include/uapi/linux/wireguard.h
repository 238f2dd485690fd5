/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Generic netlink interface of the WireGuard device driver.
 *
 * Family name "wireguard" (WG_GENL_NAME), version 1 (WG_GENL_VERSION).
 * The numbering of every command, attribute and flag below is ABI: it is
 * identical to the one of the in-tree driver, so that existing tools keep
 * working unchanged.  Documentation/wireguard-netlink.rst describes the
 * semantics in full; this header gives the shape.
 *
 * Two commands exist.
 *
 * WG_CMD_GET_DEVICE must be sent with NLM_F_DUMP, and carries exactly one of
 * WGDEVICE_A_IFINDEX or WGDEVICE_A_IFNAME to select the device.  The reply is
 * a series of messages: the first carries every device attribute, and each
 * of them carries a WGDEVICE_A_PEERS nest holding as many peers as fit.  A
 * peer whose allowed IPs do not fit in one message is continued in the next
 * one, which starts its WGDEVICE_A_PEERS nest with the same peer (same
 * WGPEER_A_PUBLIC_KEY) followed by more WGPEER_A_ALLOWEDIPS.  Readers must
 * therefore merge consecutive entries that carry the same public key.  If the
 * configuration changes while the dump runs, the message following the change
 * carries NLM_F_DUMP_INTR and the reader should start again.
 *
 * WG_CMD_SET_DEVICE changes a device.  A change too large for one message is
 * sent as several, each naming the device again; only the first should carry
 * WGDEVICE_F_REPLACE_PEERS or WGPEER_F_REPLACE_ALLOWEDIPS for a given device
 * or peer, since every message is applied on its own.
 *
 * Nested lists (WGDEVICE_A_PEERS, WGPEER_A_ALLOWEDIPS) hold one nested
 * attribute per element; the type of an element's nest is ignored on input
 * and is zero on output.
 */

#ifndef _UAPI_WIREGUARD_H
#define _UAPI_WIREGUARD_H

#define WG_GENL_NAME "wireguard"
#define WG_GENL_VERSION 1

#define WG_KEY_LEN 32

enum wg_cmd {
	WG_CMD_GET_DEVICE,
	WG_CMD_SET_DEVICE,
	__WG_CMD_MAX
};

#define WG_CMD_MAX (__WG_CMD_MAX - 1)

enum wgdevice_flag {
	/* Remove every peer the message does not list (see the docs). */
	WGDEVICE_F_REPLACE_PEERS = 1U << 0,
	__WGDEVICE_F_ALL = WGDEVICE_F_REPLACE_PEERS
};

/*
 * Device attributes, top level of both commands.
 *
 *   IFINDEX      u32     selects the device (GET and SET); returned on GET
 *   IFNAME       string  selects the device by name; returned on GET
 *   PRIVATE_KEY  32 bytes; all zeroes clears it.  Only returned to
 *                        CAP_NET_ADMIN callers, and only when set
 *   PUBLIC_KEY   32 bytes; GET only, derived from PRIVATE_KEY
 *   FLAGS        u32     SET only, wgdevice_flag bits
 *   LISTEN_PORT  u16     host order; 0 on SET picks a random port
 *   FWMARK       u32     0 disables marking
 *   PEERS        nest    list of peers, see wgpeer_attribute
 *
 * Extensions of this driver, after upstream's last attribute:
 *   PEER_LIMIT   u32     the most peers the device may have, 1 to 2^20
 *                        (the default).  Always returned by GET, so a tool
 *                        knows the kernel has it; SET below the current
 *                        number of peers is refused with ERANGE.
 */
enum wgdevice_attribute {
	WGDEVICE_A_UNSPEC,
	WGDEVICE_A_IFINDEX,
	WGDEVICE_A_IFNAME,
	WGDEVICE_A_PRIVATE_KEY,
	WGDEVICE_A_PUBLIC_KEY,
	WGDEVICE_A_FLAGS,
	WGDEVICE_A_LISTEN_PORT,
	WGDEVICE_A_FWMARK,
	WGDEVICE_A_PEERS,
	WGDEVICE_A_PEER_LIMIT,
	__WGDEVICE_A_LAST
};

#define WGDEVICE_A_MAX (__WGDEVICE_A_LAST - 1)

enum wgpeer_flag {
	/* Remove this peer and everything that belongs to it. */
	WGPEER_F_REMOVE_ME = 1U << 0,
	/* Make the listed allowed IPs the peer's whole set. */
	WGPEER_F_REPLACE_ALLOWEDIPS = 1U << 1,
	/* Only change a peer that exists already; never create one. */
	WGPEER_F_UPDATE_ONLY = 1U << 2,
	__WGPEER_F_ALL = WGPEER_F_REMOVE_ME | WGPEER_F_REPLACE_ALLOWEDIPS |
			 WGPEER_F_UPDATE_ONLY
};

/*
 * Peer attributes, inside each element of WGDEVICE_A_PEERS.
 *
 *   PUBLIC_KEY                    32 bytes, identifies the peer; required
 *   PRESHARED_KEY                 32 bytes; all zeroes removes it.  Only
 *                                 returned to CAP_NET_ADMIN callers
 *   FLAGS                         u32, wgpeer_flag bits; SET only
 *   ENDPOINT                      struct sockaddr_in or struct sockaddr_in6
 *   PERSISTENT_KEEPALIVE_INTERVAL u16 seconds; 0 disables
 *   LAST_HANDSHAKE_TIME           struct __kernel_timespec; GET only
 *   RX_BYTES, TX_BYTES            u64; GET only
 *   ALLOWEDIPS                    nest, list of wgallowedip_attribute nests
 *   PROTOCOL_VERSION              u32; only 1 exists, 0 means "latest"
 *   ENDPOINTS                     nest, list of wgendpoint_attribute nests:
 *                                 the peer's candidate endpoints, most
 *                                 preferred first (an extension of this
 *                                 driver, see below)
 *
 * With ENDPOINTS, ENDPOINT keeps its meaning: on GET the active endpoint, on
 * SET the same as an ENDPOINTS list of that one address.  A peer may not
 * carry both on SET.
 */
enum wgpeer_attribute {
	WGPEER_A_UNSPEC,
	WGPEER_A_PUBLIC_KEY,
	WGPEER_A_PRESHARED_KEY,
	WGPEER_A_FLAGS,
	WGPEER_A_ENDPOINT,
	WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
	WGPEER_A_LAST_HANDSHAKE_TIME,
	WGPEER_A_RX_BYTES,
	WGPEER_A_TX_BYTES,
	WGPEER_A_ALLOWEDIPS,
	WGPEER_A_PROTOCOL_VERSION,
	WGPEER_A_ENDPOINTS,
	__WGPEER_A_LAST
};

#define WGPEER_A_MAX (__WGPEER_A_LAST - 1)

enum wgallowedip_flag {
	/* Remove this exact prefix from this peer instead of adding it. */
	WGALLOWEDIP_F_REMOVE_ME = 1U << 0,
	__WGALLOWEDIP_F_ALL = WGALLOWEDIP_F_REMOVE_ME
};

/*
 * Allowed IP attributes, inside each element of WGPEER_A_ALLOWEDIPS.
 *
 *   FAMILY     u16, AF_INET or AF_INET6
 *   IPADDR     struct in_addr or struct in6_addr, network order
 *   CIDR_MASK  u8, prefix length, at most 32 or 128
 *   FLAGS      u32, wgallowedip_flag bits; SET only
 */
enum wgallowedip_attribute {
	WGALLOWEDIP_A_UNSPEC,
	WGALLOWEDIP_A_FAMILY,
	WGALLOWEDIP_A_IPADDR,
	WGALLOWEDIP_A_CIDR_MASK,
	WGALLOWEDIP_A_FLAGS,
	__WGALLOWEDIP_A_LAST
};

#define WGALLOWEDIP_A_MAX (__WGALLOWEDIP_A_LAST - 1)

/*
 * Candidate endpoints (WGPEER_A_ENDPOINTS), an extension of this driver.  On
 * SET the list replaces the peer's configured candidates, in order of
 * preference; a candidate already configured keeps what was learnt about it.
 * An empty list leaves the peer none (it is then reached only where it
 * roams from).  At most WG_PEER_ENDPOINTS_MAX; more, a duplicate, or an
 * address that is not AF_INET or AF_INET6 is refused with EINVAL and changes
 * nothing.  On GET the list holds the configured candidates, then the
 * address the peer roamed to if it is none of them.  A tool can tell whether
 * the kernel knows the attribute from the family's policy
 * (CTRL_CMD_GETPOLICY): kernels without it do not list WGPEER_A_ENDPOINTS.
 */
#define WG_PEER_ENDPOINTS_MAX 8

enum wgendpoint_flag {
	/* GET only: the endpoint the peer's packets are sent to. */
	WGENDPOINT_F_ACTIVE = 1U << 0,
	/* GET only: learnt from the network (roaming), not configured. */
	WGENDPOINT_F_LEARNT = 1U << 1,
	__WGENDPOINT_F_ALL = WGENDPOINT_F_ACTIVE | WGENDPOINT_F_LEARNT
};

/*
 * Candidate endpoint attributes, inside each element of WGPEER_A_ENDPOINTS.
 *
 *   ADDR                 struct sockaddr_in or struct sockaddr_in6, as
 *                        WGPEER_A_ENDPOINT; required on SET
 *   FLAGS                u32, wgendpoint_flag bits; GET only
 *   LAST_HANDSHAKE_TIME  struct __kernel_timespec, wall clock of the last
 *                        handshake completed over this endpoint, zero when
 *                        none; GET only
 */
enum wgendpoint_attribute {
	WGENDPOINT_A_UNSPEC,
	WGENDPOINT_A_ADDR,
	WGENDPOINT_A_FLAGS,
	WGENDPOINT_A_LAST_HANDSHAKE_TIME,
	__WGENDPOINT_A_LAST
};

#define WGENDPOINT_A_MAX (__WGENDPOINT_A_LAST - 1)

#endif /* _UAPI_WIREGUARD_H */
