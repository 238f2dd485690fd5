// SPDX-License-Identifier: GPL-2.0
/*
 * The Linux kernel backend: generic netlink family "wireguard" for device
 * state, rtnetlink for finding wireguard interfaces.
 *
 * SET: one device change may be far larger than a netlink message, so it
 * is cut into messages of at most WG_NLMSG_PAYLOAD_MAX bytes.  Device
 * fields and REPLACE_PEERS travel only in the first message; a peer's
 * flags (REPLACE_ALLOWEDIPS, REMOVE_ME), keys, endpoint and keepalive only
 * where the peer first appears; later messages carry the public key and
 * more allowed IPs.
 *
 * GET: the kernel cuts its dump the same way, so a peer may continue in
 * the next message; we join such pieces.  A dump marked NLM_F_DUMP_INTR
 * saw the device change under it and is read again from the start.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/wireguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ipc.h"

#define RECV_BUF_SIZE (64 * 1024)

struct nlctx {
	struct mnl_socket *sock;
	unsigned int portid, seq;
	uint16_t family;
};

/* ---- acks, errors and extack ---- */

static int cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

static int cb_done(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int err = *(int *)mnl_nlmsg_get_payload(nlh);

		if (err < 0) {
			errno = -err;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

static int cb_overrun(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int cb_error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t skip;

	(void)data;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	/* The extack attributes follow the echoed request (only its header
	 * when NLM_F_CAPPED). */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		skip = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			skip += err->msg.nlmsg_len - sizeof(err->msg);
		mnl_attr_for_each(attr, nlh, skip) {
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
				snprintf(ipc_error_detail, sizeof(ipc_error_detail), "%s", mnl_attr_get_str(attr));
		}
	}
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = cb_noop,
	[NLMSG_ERROR] = cb_error,
	[NLMSG_DONE] = cb_done,
	[NLMSG_OVERRUN] = cb_overrun,
};

static int nl_open(struct nlctx *ctx, int bus)
{
	int one = 1;

	memset(ctx, 0, sizeof(*ctx));
	ctx->sock = mnl_socket_open(bus);
	if (!ctx->sock)
		return -errno;
	mnl_socket_setsockopt(ctx->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(ctx->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(ctx->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int ret = -errno;

		mnl_socket_close(ctx->sock);
		ctx->sock = NULL;
		return ret;
	}
	ctx->portid = mnl_socket_get_portid(ctx->sock);
	ctx->seq = (unsigned int)time(NULL);
	return 0;
}

static void nl_close(struct nlctx *ctx)
{
	if (ctx->sock)
		mnl_socket_close(ctx->sock);
	ctx->sock = NULL;
}

/* Sends nlh and runs cb over every reply until the ack or NLMSG_DONE. */
static int nl_talk(struct nlctx *ctx, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char *buf;
	ssize_t len;
	int ret;

	nlh->nlmsg_seq = ++ctx->seq;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(ctx->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	buf = malloc(RECV_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	do {
		len = mnl_socket_recvfrom(ctx->sock, buf, RECV_BUF_SIZE);
		if (len < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run2(buf, (size_t)len, ctx->seq, ctx->portid, cb, data, ctl_cbs, NLMSG_MIN_TYPE);
		if (ret < 0) {
			ret = -errno;
			break;
		}
	} while (ret > MNL_CB_STOP);
	free(buf);
	return ret < 0 ? ret : 0;
}

/* ---- genetlink family lookup ---- */

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	uint16_t *id = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
		*id = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
}

static int genl_open(struct nlctx *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;
	int ret;

	ret = nl_open(ctx, NETLINK_GENERIC);
	if (ret)
		return ret;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	ret = nl_talk(ctx, nlh, family_cb, &ctx->family);
	if (ret == -ENOENT || (!ret && !ctx->family))
		ret = -EPROTONOSUPPORT;	/* no wireguard module loaded */
	if (ret)
		nl_close(ctx);
	return ret;
}

static struct nlmsghdr *genl_header(struct nlctx *ctx, char *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = ctx->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = WG_GENL_VERSION;
	return nlh;
}

/* ---- GET ---- */

struct get_state {
	struct wg_device *dev;
	struct wg_peer *peer;
	bool interrupted;
};

static int allowedip_attr_cb(const struct nlattr *attr, void *data)
{
	struct wg_allowedip *ip = data;

	switch (mnl_attr_get_type(attr)) {
	case WGALLOWEDIP_A_FAMILY:
		if (!mnl_attr_validate(attr, MNL_TYPE_U16))
			ip->family = mnl_attr_get_u16(attr);
		break;
	case WGALLOWEDIP_A_IPADDR:
		if (mnl_attr_get_payload_len(attr) == sizeof(ip->ip4))
			memcpy(&ip->ip4, mnl_attr_get_payload(attr), sizeof(ip->ip4));
		else if (mnl_attr_get_payload_len(attr) == sizeof(ip->ip6))
			memcpy(&ip->ip6, mnl_attr_get_payload(attr), sizeof(ip->ip6));
		break;
	case WGALLOWEDIP_A_CIDR_MASK:
		if (!mnl_attr_validate(attr, MNL_TYPE_U8))
			ip->cidr = mnl_attr_get_u8(attr);
		break;
	}
	return MNL_CB_OK;
}

static int allowedips_cb(const struct nlattr *attr, void *data)
{
	struct wg_peer *peer = data;
	struct wg_allowedip ip = { 0 };

	if (mnl_attr_parse_nested(attr, allowedip_attr_cb, &ip) < 0)
		return MNL_CB_ERROR;
	if ((ip.family == AF_INET && ip.cidr <= 32) || (ip.family == AF_INET6 && ip.cidr <= 128))
		*peer_add_ip(peer) = ip;
	return MNL_CB_OK;
}

static int peer_attr_cb(const struct nlattr *attr, void *data)
{
	struct wg_peer *peer = data;
	size_t len = mnl_attr_get_payload_len(attr);

	switch (mnl_attr_get_type(attr)) {
	case WGPEER_A_PUBLIC_KEY:
		if (len == WG_KEY_SIZE) {
			memcpy(peer->public_key, mnl_attr_get_payload(attr), WG_KEY_SIZE);
			peer->flags |= PEER_HAS_PUBLIC_KEY;
		}
		break;
	case WGPEER_A_PRESHARED_KEY:
		if (len == WG_KEY_SIZE) {
			memcpy(peer->preshared_key, mnl_attr_get_payload(attr), WG_KEY_SIZE);
			for (len = 0; len < WG_KEY_SIZE; ++len)
				if (peer->preshared_key[len])
					peer->flags |= PEER_HAS_PRESHARED_KEY;
		}
		break;
	case WGPEER_A_ENDPOINT:
		if ((len == sizeof(struct sockaddr_in) || len == sizeof(struct sockaddr_in6)) && len <= sizeof(peer->endpoint)) {
			memcpy(&peer->endpoint, mnl_attr_get_payload(attr), len);
			if (peer->endpoint.addr.sa_family == AF_INET || peer->endpoint.addr.sa_family == AF_INET6)
				peer->flags |= PEER_HAS_ENDPOINT;
		}
		break;
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		if (!mnl_attr_validate(attr, MNL_TYPE_U16))
			peer->keepalive = mnl_attr_get_u16(attr);
		break;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		if (len == 2 * sizeof(int64_t)) {
			int64_t t[2];

			memcpy(t, mnl_attr_get_payload(attr), sizeof(t));
			peer->handshake_sec = t[0];
			peer->handshake_nsec = t[1];
		}
		break;
	case WGPEER_A_RX_BYTES:
		if (!mnl_attr_validate(attr, MNL_TYPE_U64))
			peer->rx_bytes = mnl_attr_get_u64(attr);
		break;
	case WGPEER_A_TX_BYTES:
		if (!mnl_attr_validate(attr, MNL_TYPE_U64))
			peer->tx_bytes = mnl_attr_get_u64(attr);
		break;
	case WGPEER_A_ALLOWEDIPS:
		return mnl_attr_parse_nested(attr, allowedips_cb, peer) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
	}
	return MNL_CB_OK;
}

static int peers_cb(const struct nlattr *attr, void *data)
{
	struct get_state *st = data;
	struct wg_peer piece = { 0 }, *last;
	size_t i;

	if (mnl_attr_parse_nested(attr, peer_attr_cb, &piece) < 0) {
		peer_free(&piece);
		return MNL_CB_ERROR;
	}
	last = st->dev->n_peers ? &st->dev->peers[st->dev->n_peers - 1] : NULL;
	if (last && !memcmp(last->public_key, piece.public_key, WG_KEY_SIZE)) {
		/* The previous message's last peer goes on here. */
		for (i = 0; i < piece.n_ips; ++i)
			*peer_add_ip(last) = piece.ips[i];
		peer_free(&piece);
		return MNL_CB_OK;
	}
	*device_add_peer(st->dev) = piece;
	return MNL_CB_OK;
}

static int device_attr_cb(const struct nlattr *attr, void *data)
{
	struct get_state *st = data;
	struct wg_device *dev = st->dev;
	size_t len = mnl_attr_get_payload_len(attr);
	uint8_t zero[WG_KEY_SIZE] = { 0 };

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_IFINDEX:
		if (!mnl_attr_validate(attr, MNL_TYPE_U32))
			dev->ifindex = mnl_attr_get_u32(attr);
		break;
	case WGDEVICE_A_IFNAME:
		if (!mnl_attr_validate(attr, MNL_TYPE_STRING))
			snprintf(dev->name, sizeof(dev->name), "%s", mnl_attr_get_str(attr));
		break;
	case WGDEVICE_A_PRIVATE_KEY:
		if (len == WG_KEY_SIZE && memcmp(mnl_attr_get_payload(attr), zero, WG_KEY_SIZE)) {
			memcpy(dev->private_key, mnl_attr_get_payload(attr), WG_KEY_SIZE);
			dev->flags |= DEV_HAS_PRIVATE_KEY;
		}
		break;
	case WGDEVICE_A_PUBLIC_KEY:
		if (len == WG_KEY_SIZE && memcmp(mnl_attr_get_payload(attr), zero, WG_KEY_SIZE)) {
			memcpy(dev->public_key, mnl_attr_get_payload(attr), WG_KEY_SIZE);
			dev->flags |= DEV_HAS_PUBLIC_KEY;
		}
		break;
	case WGDEVICE_A_LISTEN_PORT:
		if (!mnl_attr_validate(attr, MNL_TYPE_U16))
			dev->listen_port = mnl_attr_get_u16(attr);
		break;
	case WGDEVICE_A_FWMARK:
		if (!mnl_attr_validate(attr, MNL_TYPE_U32))
			dev->fwmark = mnl_attr_get_u32(attr);
		break;
	case WGDEVICE_A_PEERS:
		return mnl_attr_parse_nested(attr, peers_cb, st) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
	}
	return MNL_CB_OK;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_state *st = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		st->interrupted = true;
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), device_attr_cb, st);
}

int kernel_get_device(struct wg_device *dev, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct get_state st;
	struct nlmsghdr *nlh;
	struct nlctx ctx;
	int ret, tries;

	ret = genl_open(&ctx);
	if (ret)
		return ret;
	for (tries = 0; tries < 100; ++tries) {
		device_free(dev);
		memset(dev, 0, sizeof(*dev));
		memset(&st, 0, sizeof(st));
		st.dev = dev;
		nlh = genl_header(&ctx, buf, WG_CMD_GET_DEVICE, NLM_F_DUMP);
		mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, name);
		ret = nl_talk(&ctx, nlh, get_cb, &st);
		if (ret == -EINTR || (!ret && st.interrupted))
			continue;	/* changed while we read: start over */
		break;
	}
	nl_close(&ctx);
	if (!ret && st.interrupted)
		ret = -EAGAIN;
	if (ret) {
		device_free(dev);
		return ret;
	}
	if (!dev->name[0])
		snprintf(dev->name, sizeof(dev->name), "%s", name);
	return 0;
}

/* ---- SET ---- */

struct set_builder {
	struct nlctx *ctx;
	const struct wg_device *dev;
	char *buf;
	struct nlmsghdr *nlh;
	struct nlattr *peers;
	bool first_message;
	size_t messages;
};

static void msg_start(struct set_builder *b)
{
	const struct wg_device *dev = b->dev;

	b->nlh = genl_header(b->ctx, b->buf, WG_CMD_SET_DEVICE, 0);
	mnl_attr_put_strz(b->nlh, WGDEVICE_A_IFNAME, dev->name);
	b->peers = NULL;
	if (!b->first_message)
		return;
	if (dev->flags & DEV_REPLACE_PEERS)
		mnl_attr_put_u32(b->nlh, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
	if (dev->flags & DEV_HAS_PRIVATE_KEY)
		mnl_attr_put(b->nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_SIZE, dev->private_key);
	if (dev->flags & DEV_HAS_LISTEN_PORT)
		mnl_attr_put_u16(b->nlh, WGDEVICE_A_LISTEN_PORT, dev->listen_port);
	if (dev->flags & DEV_HAS_FWMARK)
		mnl_attr_put_u32(b->nlh, WGDEVICE_A_FWMARK, dev->fwmark);
}

static int msg_flush(struct set_builder *b)
{
	int ret;

	if (b->peers)
		mnl_attr_nest_end(b->nlh, b->peers);
	ret = nl_talk(b->ctx, b->nlh, NULL, NULL);
	b->first_message = false;
	++b->messages;
	if (!ret)
		msg_start(b);
	return ret;
}

static bool nest_has_content(const struct nlmsghdr *nlh, const struct nlattr *nest)
{
	return (const char *)mnl_nlmsg_get_payload_tail(nlh) - (const char *)nest > (long)MNL_ATTR_HDRLEN;
}

/* Puts the head of a peer (first appearance carries everything). */
static bool put_peer_head(struct set_builder *b, const struct wg_peer *peer, bool first)
{
	struct nlmsghdr *nlh = b->nlh;
	size_t room = WG_NLMSG_PAYLOAD_MAX;
	uint32_t flags = 0;

	if (!mnl_attr_put_check(nlh, room, WGPEER_A_PUBLIC_KEY, WG_KEY_SIZE, peer->public_key))
		return false;
	if (!first)
		return true;
	if (peer->flags & PEER_REMOVE)
		flags |= WGPEER_F_REMOVE_ME;
	if (peer->flags & PEER_REPLACE_ALLOWEDIPS)
		flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
	if (peer->flags & PEER_UPDATE_ONLY)
		flags |= WGPEER_F_UPDATE_ONLY;
	if (flags && !mnl_attr_put_u32_check(nlh, room, WGPEER_A_FLAGS, flags))
		return false;
	if (peer->flags & PEER_REMOVE)
		return true;
	if ((peer->flags & PEER_HAS_PRESHARED_KEY) &&
	    !mnl_attr_put_check(nlh, room, WGPEER_A_PRESHARED_KEY, WG_KEY_SIZE, peer->preshared_key))
		return false;
	if (peer->flags & PEER_HAS_ENDPOINT) {
		size_t len = peer->endpoint.addr.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

		if (!mnl_attr_put_check(nlh, room, WGPEER_A_ENDPOINT, len, &peer->endpoint))
			return false;
	}
	if ((peer->flags & PEER_HAS_KEEPALIVE) &&
	    !mnl_attr_put_u16_check(nlh, room, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer->keepalive))
		return false;
	return true;
}

static bool put_allowedip(struct nlmsghdr *nlh, const struct wg_allowedip *ip)
{
	size_t room = WG_NLMSG_PAYLOAD_MAX;
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, room, 0);

	if (!nest)
		return false;
	if (!mnl_attr_put_u16_check(nlh, room, WGALLOWEDIP_A_FAMILY, ip->family) ||
	    !mnl_attr_put_check(nlh, room, WGALLOWEDIP_A_IPADDR, ip->family == AF_INET6 ? sizeof(ip->ip6) : sizeof(ip->ip4), &ip->ip6) ||
	    !mnl_attr_put_u8_check(nlh, room, WGALLOWEDIP_A_CIDR_MASK, ip->cidr) ||
	    (ip->remove && !mnl_attr_put_u32_check(nlh, room, WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME))) {
		mnl_attr_nest_cancel(nlh, nest);
		return false;
	}
	mnl_attr_nest_end(nlh, nest);
	return true;
}

static int put_peer(struct set_builder *b, const struct wg_peer *peer)
{
	size_t room = WG_NLMSG_PAYLOAD_MAX, next_ip = 0, before;
	struct nlattr *nest, *ips;
	bool first = true;
	int ret;

	for (;;) {
		if (!b->peers) {
			b->peers = mnl_attr_nest_start_check(b->nlh, room, WGDEVICE_A_PEERS);
			if (!b->peers)
				return -EMSGSIZE;
		}
		nest = mnl_attr_nest_start_check(b->nlh, room, 0);
		if (!nest || !put_peer_head(b, peer, first)) {
			if (nest)
				mnl_attr_nest_cancel(b->nlh, nest);
			if (!nest_has_content(b->nlh, b->peers) && !b->first_message)
				return -EMSGSIZE;	/* cannot fit even alone */
			ret = msg_flush(b);
			if (ret)
				return ret;
			continue;
		}
		if (next_ip < peer->n_ips && !(peer->flags & PEER_REMOVE)) {
			ips = mnl_attr_nest_start_check(b->nlh, room, WGPEER_A_ALLOWEDIPS);
			before = next_ip;
			if (ips) {
				while (next_ip < peer->n_ips && put_allowedip(b->nlh, &peer->ips[next_ip]))
					++next_ip;
				if (next_ip > before)
					mnl_attr_nest_end(b->nlh, ips);
				else
					mnl_attr_nest_cancel(b->nlh, ips);
			}
			if (next_ip < peer->n_ips) {
				/* Message full: close what we have and go on in
				 * the next one with the same peer. */
				if (next_ip == before && !first) {
					mnl_attr_nest_cancel(b->nlh, nest);
				} else {
					mnl_attr_nest_end(b->nlh, nest);
					first = false;
				}
				ret = msg_flush(b);
				if (ret)
					return ret;
				continue;
			}
		}
		mnl_attr_nest_end(b->nlh, nest);
		return 0;
	}
}

int kernel_set_device(const struct wg_device *dev)
{
	struct set_builder b = { 0 };
	struct nlctx ctx;
	size_t i;
	int ret;

	ret = genl_open(&ctx);
	if (ret)
		return ret;
	b.buf = calloc(1, WG_NLMSG_PAYLOAD_MAX + 4096);
	if (!b.buf) {
		nl_close(&ctx);
		return -ENOMEM;
	}
	b.ctx = &ctx;
	b.dev = dev;
	b.first_message = true;
	msg_start(&b);
	for (i = 0; i < dev->n_peers; ++i) {
		ret = put_peer(&b, &dev->peers[i]);
		if (ret)
			goto out;
	}
	if (b.first_message || (b.peers && nest_has_content(b.nlh, b.peers)))
		ret = msg_flush(&b);
out:
	free(b.buf);
	nl_close(&ctx);
	return ret;
}

/*
 * Whether the kernel knows WGALLOWEDIP_A_FLAGS, in one request whatever the
 * size of the device: a peer that cannot exist (UPDATE_ONLY, random key)
 * with an allowed IP carrying a flag bit nobody defines.  A kernel that
 * knows the attribute checks it against its mask and refuses the whole
 * request with EINVAL; an older one ignores the attribute, skips the
 * unknown peer and answers 0.  Either way nothing changes.
 */
int kernel_removal_supported(const char *name, const uint8_t random_key[WG_KEY_SIZE])
{
	char *buf = calloc(1, MNL_SOCKET_BUFFER_SIZE);
	struct nlattr *peers, *peer, *ips, *ip;
	static const uint8_t addr[16] = { 0x01 };	/* 100::/64 */
	struct nlmsghdr *nlh;
	struct nlctx ctx;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = genl_open(&ctx);
	if (ret) {
		free(buf);
		return ret;
	}
	nlh = genl_header(&ctx, buf, WG_CMD_SET_DEVICE, 0);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, name);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_SIZE, random_key);
	mnl_attr_put_u32(nlh, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	ip = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET6);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, sizeof(addr), addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 128);
	mnl_attr_put_u32(nlh, WGALLOWEDIP_A_FLAGS, 1U << 31);
	mnl_attr_nest_end(nlh, ip);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	ret = nl_talk(&ctx, nlh, NULL, NULL);
	nl_close(&ctx);
	free(buf);
	ipc_error_detail[0] = '\0';
	if (ret == -EINVAL)
		return 1;
	return ret ? ret : 0;
}

/* ---- interface listing ---- */

struct list_state {
	char **buf;
	size_t *len, *cap;
	const char *name;
	bool is_wireguard;
};

static int linkinfo_cb(const struct nlattr *attr, void *data)
{
	struct list_state *st = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && !mnl_attr_validate(attr, MNL_TYPE_STRING) &&
	    !strcmp(mnl_attr_get_str(attr), "wireguard"))
		st->is_wireguard = true;
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct list_state *st = data;

	if (mnl_attr_get_type(attr) == IFLA_IFNAME && !mnl_attr_validate(attr, MNL_TYPE_STRING))
		st->name = mnl_attr_get_str(attr);
	else if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
		return mnl_attr_parse_nested(attr, linkinfo_cb, st);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_state *st = data;
	size_t n;

	st->name = NULL;
	st->is_wireguard = false;
	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, st) < 0)
		return MNL_CB_ERROR;
	if (!st->name || !st->is_wireguard)
		return MNL_CB_OK;
	n = strlen(st->name) + 1;
	while (*st->len + n + 1 > *st->cap) {
		*st->cap = *st->cap ? *st->cap * 2 : 256;
		*st->buf = xrealloc(*st->buf, *st->cap, 1);
	}
	memcpy(*st->buf + *st->len, st->name, n);
	*st->len += n;
	return MNL_CB_OK;
}

int kernel_list_devices(char **buf, size_t *len, size_t *cap)
{
	char req[MNL_SOCKET_BUFFER_SIZE];
	struct list_state st = { .buf = buf, .len = len, .cap = cap };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlctx ctx;
	size_t start = *len;
	int ret, tries;

	ret = nl_open(&ctx, NETLINK_ROUTE);
	if (ret)
		return ret;
	for (tries = 0; tries < 10; ++tries) {
		*len = start;
		nlh = mnl_nlmsg_put_header(req);
		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
		ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		ret = nl_talk(&ctx, nlh, link_cb, &st);
		if (ret != -EINTR)
			break;
	}
	nl_close(&ctx);
	return ret;
}
