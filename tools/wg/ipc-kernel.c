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
 * saw the device change under it: it is read to its end, thrown away and
 * asked for again.  Replies are parsed through one attribute table per
 * nest (see "attribute tables").
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <stddef.h>
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

/*
 * Checks that buf holds whole netlink messages back to back, and takes the
 * NLM_F_DUMP_INTR mark off them.  The mark says that the object changed
 * while the kernel was dumping it.  libmnl answers it with EINTR and stops
 * reading, leaving the rest of the dump queued on the socket, where it
 * would be read as the reply to the next request; so we clear it before
 * libmnl sees it, read the dump to its end, and let the caller ask again
 * on a socket that holds nothing more.  The framing check is ours because
 * libmnl's (int) comparison takes a length of 2 GiB or more as fitting.
 *
 * Returns 1 if a message was marked, 0 if not, -EBADMSG for bad framing.
 */
static int take_dump_marks(char *buf, size_t len)
{
	struct nlmsghdr *nlh;
	size_t off = 0, msg_len;
	int marked = 0;

	while (len - off >= sizeof(*nlh)) {
		nlh = (struct nlmsghdr *)(buf + off);
		msg_len = nlh->nlmsg_len;
		if (msg_len < sizeof(*nlh) || msg_len > len - off)
			return -EBADMSG;
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
			marked = 1;
		}
		if (NLMSG_ALIGN(msg_len) >= len - off)
			break;
		off += NLMSG_ALIGN(msg_len);
	}
	return marked;
}

/*
 * Sends nlh and runs cb over every reply until the ack or NLMSG_DONE.
 * -EINTR: a dump was interrupted by a change; it has been read to its end
 * and what cb built from it is inconsistent.
 */
static int nl_talk(struct nlctx *ctx, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	bool interrupted = false;
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
		ret = take_dump_marks(buf, (size_t)len);
		if (ret < 0)
			break;
		if (ret)
			interrupted = true;
		ret = mnl_cb_run2(buf, (size_t)len, ctx->seq, ctx->portid, cb, data, ctl_cbs, NLMSG_MIN_TYPE);
		if (ret < 0) {
			ret = -errno;
			break;
		}
	} while (ret > MNL_CB_STOP);
	free(buf);
	if (ret < 0)
		return ret;
	return interrupted ? -EINTR : 0;
}

/* ---- attribute tables ---- */

/*
 * Replies are read through one table per kind of nest: for each attribute
 * type we read, the form it must have and where it goes.  One walker
 * applies a table to a message or nest.  Like the kernel's policy, it
 * skips types the table does not know (newer kernels add attributes);
 * unlike it, it also skips a known attribute of the wrong form instead of
 * failing the whole reply, so that one odd field does not hide a device.
 */
struct attr_rule;
typedef int (*attr_store_t)(const struct nlattr *attr, const struct attr_rule *rule, void *obj);

struct attr_rule {
	attr_store_t store;		/* NULL: not read */
	enum mnl_attr_data_type type;	/* validated with libmnl */
	uint16_t lens[2];		/* MNL_TYPE_BINARY: accepted lengths */
	size_t offset;			/* store_scalar(): field in obj */
};

struct attr_table {
	const struct attr_rule *rules;
	unsigned int max_type;
};

#define ATTR_TABLE(rules) { rules, sizeof(rules) / sizeof(rules[0]) - 1 }

/* offsetof(s, f), refusing to compile when f is not @bytes wide. */
#define FIELD_AT(s, f, bytes) \
	(offsetof(s, f) + 0 * sizeof(char[sizeof(((s *)0)->f) == (bytes) ? 1 : -1]))
#define SCALAR_INTO(t, bytes, s, f) { .store = store_scalar, .type = (t), .offset = FIELD_AT(s, f, bytes) }
#define U8_INTO(s, f) SCALAR_INTO(MNL_TYPE_U8, 1, s, f)
#define U16_INTO(s, f) SCALAR_INTO(MNL_TYPE_U16, 2, s, f)
#define U32_INTO(s, f) SCALAR_INTO(MNL_TYPE_U32, 4, s, f)
#define U64_INTO(s, f) SCALAR_INTO(MNL_TYPE_U64, 8, s, f)
#define BYTES(fn, ...) { .store = (fn), .type = MNL_TYPE_BINARY, .lens = { __VA_ARGS__ } }
#define STRING(fn) { .store = (fn), .type = MNL_TYPE_STRING }
#define NESTED(fn) { .store = (fn), .type = MNL_TYPE_NESTED }

static bool attr_has_form(const struct nlattr *attr, const struct attr_rule *rule)
{
	uint16_t len = mnl_attr_get_payload_len(attr);

	if (rule->type == MNL_TYPE_BINARY)
		return len == rule->lens[0] || (rule->lens[1] && len == rule->lens[1]);
	return mnl_attr_validate(attr, rule->type) >= 0;
}

struct attr_walk {
	const struct attr_table *table;
	void *obj;
};

static int walk_one(const struct nlattr *attr, void *data)
{
	const struct attr_walk *walk = data;
	unsigned int type = mnl_attr_get_type(attr);
	const struct attr_rule *rule;

	if (type > walk->table->max_type)
		return MNL_CB_OK;
	rule = &walk->table->rules[type];
	if (!rule->store || !attr_has_form(attr, rule))
		return MNL_CB_OK;
	return rule->store(attr, rule, walk->obj);
}

/* Applies table to the attributes of a message, after its fixed header. */
static int walk_message(const struct nlmsghdr *nlh, size_t header, const struct attr_table *table, void *obj)
{
	struct attr_walk walk = { table, obj };

	return mnl_attr_parse(nlh, (unsigned int)header, walk_one, &walk);
}

static int walk_nest(const struct nlattr *nest, const struct attr_table *table, void *obj)
{
	struct attr_walk walk = { table, obj };

	return mnl_attr_parse_nested(nest, walk_one, &walk);
}

/* A list nest (peers, allowed IPs): take_item() gets each element. */
static int walk_list(const struct nlattr *nest, int (*take_item)(const struct nlattr *item, void *obj), void *obj)
{
	const struct nlattr *item;
	int ret;

	mnl_attr_for_each_nested(item, nest) {
		ret = take_item(item, obj);
		if (ret <= MNL_CB_STOP)
			return ret;
	}
	return MNL_CB_OK;
}

/* U8..U64, validated to their exact width: copied as they are. */
static int store_scalar(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	memcpy((char *)obj + rule->offset, mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
	return MNL_CB_OK;
}

/* Copies a string attribute into dst[size], cut at its NUL or at size - 1. */
static void copy_string(char *dst, size_t size, const struct nlattr *attr)
{
	size_t len = strnlen(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));

	if (len >= size)
		len = size - 1;
	memcpy(dst, mnl_attr_get_payload(attr), len);
	dst[len] = '\0';
}

/* Keys the kernel reports as 32 zero bytes mean "none": not taken. */
static bool take_key(uint8_t dst[WG_KEY_SIZE], const struct nlattr *attr)
{
	static const uint8_t none[WG_KEY_SIZE];

	if (!memcmp(mnl_attr_get_payload(attr), none, WG_KEY_SIZE))
		return false;
	memcpy(dst, mnl_attr_get_payload(attr), WG_KEY_SIZE);
	return true;
}

/* ---- genetlink family lookup ---- */

static const struct attr_rule family_rules[] = {
	[CTRL_ATTR_FAMILY_ID] = U16_INTO(struct nlctx, family),
};
static const struct attr_table family_table = ATTR_TABLE(family_rules);

static int family_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return walk_message(nlh, sizeof(struct genlmsghdr), &family_table, data);
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
	ret = nl_talk(ctx, nlh, family_msg_cb, ctx);
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

/* WGALLOWEDIP_A_*: one allowed IP, into a struct wg_allowedip. */
static int store_ip_addr(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_allowedip *ip = obj;

	(void)rule;
	/* ip4 and ip6 share the union's first bytes. */
	memcpy(&ip->ip6, mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
	return MNL_CB_OK;
}

static const struct attr_rule allowedip_rules[] = {
	[WGALLOWEDIP_A_FAMILY] = U16_INTO(struct wg_allowedip, family),
	[WGALLOWEDIP_A_IPADDR] = BYTES(store_ip_addr, sizeof(struct in_addr), sizeof(struct in6_addr)),
	[WGALLOWEDIP_A_CIDR_MASK] = U8_INTO(struct wg_allowedip, cidr),
};
static const struct attr_table allowedip_table = ATTR_TABLE(allowedip_rules);

static bool allowedip_is_whole(const struct wg_allowedip *ip)
{
	return (ip->family == AF_INET && ip->cidr <= 32) || (ip->family == AF_INET6 && ip->cidr <= 128);
}

/* One element of WGPEER_A_ALLOWEDIPS; a prefix we cannot show is dropped. */
static int take_allowedip(const struct nlattr *item, void *obj)
{
	struct wg_allowedip ip = { 0 };

	if (walk_nest(item, &allowedip_table, &ip) < 0)
		return MNL_CB_ERROR;
	if (allowedip_is_whole(&ip))
		*peer_add_ip(obj) = ip;
	return MNL_CB_OK;
}

/* WGPEER_A_*: one peer, or one piece of a peer cut across messages. */
static int store_peer_public_key(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_peer *peer = obj;

	(void)rule;
	memcpy(peer->public_key, mnl_attr_get_payload(attr), WG_KEY_SIZE);
	peer->flags |= PEER_HAS_PUBLIC_KEY;
	return MNL_CB_OK;
}

/* The kernel reports "no preshared key" as 32 zero bytes. */
static int store_peer_preshared_key(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_peer *peer = obj;

	(void)rule;
	if (take_key(peer->preshared_key, attr))
		peer->flags |= PEER_HAS_PRESHARED_KEY;
	return MNL_CB_OK;
}

static int store_peer_endpoint(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_peer *peer = obj;

	(void)rule;
	memcpy(&peer->endpoint, mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
	if (peer->endpoint.addr.sa_family == AF_INET || peer->endpoint.addr.sa_family == AF_INET6)
		peer->flags |= PEER_HAS_ENDPOINT;
	return MNL_CB_OK;
}

/* struct __kernel_timespec: two signed 64-bit fields. */
static int store_peer_handshake(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_peer *peer = obj;
	int64_t when[2];

	(void)rule;
	memcpy(when, mnl_attr_get_payload(attr), sizeof(when));
	peer->handshake_sec = when[0];
	peer->handshake_nsec = when[1];
	return MNL_CB_OK;
}

static int store_peer_allowedips(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	(void)rule;
	return walk_list(attr, take_allowedip, obj) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static const struct attr_rule peer_rules[] = {
	[WGPEER_A_PUBLIC_KEY] = BYTES(store_peer_public_key, WG_KEY_SIZE),
	[WGPEER_A_PRESHARED_KEY] = BYTES(store_peer_preshared_key, WG_KEY_SIZE),
	[WGPEER_A_ENDPOINT] = BYTES(store_peer_endpoint, sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6)),
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = U16_INTO(struct wg_peer, keepalive),
	[WGPEER_A_LAST_HANDSHAKE_TIME] = BYTES(store_peer_handshake, 2 * sizeof(int64_t)),
	[WGPEER_A_RX_BYTES] = U64_INTO(struct wg_peer, rx_bytes),
	[WGPEER_A_TX_BYTES] = U64_INTO(struct wg_peer, tx_bytes),
	[WGPEER_A_ALLOWEDIPS] = NESTED(store_peer_allowedips),
};
static const struct attr_table peer_table = ATTR_TABLE(peer_rules);

/*
 * One element of WGDEVICE_A_PEERS.  A peer whose allowed IPs did not fit
 * the previous message starts this one again under the same public key:
 * its further prefixes join the peer already read.
 */
static int take_peer(const struct nlattr *item, void *obj)
{
	struct wg_device *dev = obj;
	struct wg_peer piece = { 0 }, *last;
	size_t i;

	if (walk_nest(item, &peer_table, &piece) < 0) {
		peer_free(&piece);
		return MNL_CB_ERROR;
	}
	last = dev->n_peers ? &dev->peers[dev->n_peers - 1] : NULL;
	if (!last || memcmp(last->public_key, piece.public_key, WG_KEY_SIZE)) {
		*device_add_peer(dev) = piece;
		return MNL_CB_OK;
	}
	for (i = 0; i < piece.n_ips; ++i)
		*peer_add_ip(last) = piece.ips[i];
	peer_free(&piece);
	return MNL_CB_OK;
}

/* WGDEVICE_A_*: the device, repeated at the head of every message. */
static int store_dev_name(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_device *dev = obj;

	(void)rule;
	copy_string(dev->name, sizeof(dev->name), attr);
	return MNL_CB_OK;
}

static int store_dev_private_key(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_device *dev = obj;

	(void)rule;
	if (take_key(dev->private_key, attr))
		dev->flags |= DEV_HAS_PRIVATE_KEY;
	return MNL_CB_OK;
}

static int store_dev_public_key(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct wg_device *dev = obj;

	(void)rule;
	if (take_key(dev->public_key, attr))
		dev->flags |= DEV_HAS_PUBLIC_KEY;
	return MNL_CB_OK;
}

static int store_dev_peers(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	(void)rule;
	return walk_list(attr, take_peer, obj) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static const struct attr_rule device_rules[] = {
	[WGDEVICE_A_IFINDEX] = U32_INTO(struct wg_device, ifindex),
	[WGDEVICE_A_IFNAME] = STRING(store_dev_name),
	[WGDEVICE_A_PRIVATE_KEY] = BYTES(store_dev_private_key, WG_KEY_SIZE),
	[WGDEVICE_A_PUBLIC_KEY] = BYTES(store_dev_public_key, WG_KEY_SIZE),
	[WGDEVICE_A_LISTEN_PORT] = U16_INTO(struct wg_device, listen_port),
	[WGDEVICE_A_FWMARK] = U32_INTO(struct wg_device, fwmark),
	[WGDEVICE_A_PEERS] = NESTED(store_dev_peers),
};
static const struct attr_table device_table = ATTR_TABLE(device_rules);

static int device_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return walk_message(nlh, sizeof(struct genlmsghdr), &device_table, data);
}

int kernel_parse_dump(struct wg_device *dev, void *buf, size_t len)
{
	int ret = take_dump_marks(buf, len);

	if (ret < 0)
		return ret;
	if (mnl_cb_run(buf, len, 0, 0, device_msg_cb, dev) < 0)
		return -errno;
	return 0;
}

int kernel_get_device(struct wg_device *dev, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nlctx ctx;
	int ret, tries;

	ret = genl_open(&ctx);
	if (ret)
		return ret;
	for (tries = 0; tries < 100; ++tries) {
		device_free(dev);
		memset(dev, 0, sizeof(*dev));
		nlh = genl_header(&ctx, buf, WG_CMD_GET_DEVICE, NLM_F_DUMP);
		if (!mnl_attr_put_strz_check(nlh, sizeof(buf), WGDEVICE_A_IFNAME, name)) {
			ret = -EINVAL;
			break;
		}
		ret = nl_talk(&ctx, nlh, device_msg_cb, dev);
		if (ret != -EINTR)
			break;
		/* changed while we read: the dump is drained, ask again */
	}
	nl_close(&ctx);
	if (ret == -EINTR)
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

static int store_link_kind(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct list_state *st = obj;

	(void)rule;
	if (!strcmp(mnl_attr_get_str(attr), "wireguard"))
		st->is_wireguard = true;
	return MNL_CB_OK;
}

static const struct attr_rule linkinfo_rules[] = {
	[IFLA_INFO_KIND] = STRING(store_link_kind),
};
static const struct attr_table linkinfo_table = ATTR_TABLE(linkinfo_rules);

static int store_link_name(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	struct list_state *st = obj;

	(void)rule;
	st->name = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int store_link_info(const struct nlattr *attr, const struct attr_rule *rule, void *obj)
{
	(void)rule;
	return walk_nest(attr, &linkinfo_table, obj);
}

static const struct attr_rule link_rules[] = {
	[IFLA_IFNAME] = STRING(store_link_name),
	[IFLA_LINKINFO] = NESTED(store_link_info),
};
static const struct attr_table link_table = ATTR_TABLE(link_rules);

/* One RTM_NEWLINK of the dump: its name is kept if it is a wireguard link. */
static int link_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_state *st = data;
	size_t n;

	st->name = NULL;
	st->is_wireguard = false;
	if (walk_message(nlh, sizeof(struct ifinfomsg), &link_table, st) < 0)
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
		ret = nl_talk(&ctx, nlh, link_msg_cb, &st);
		if (ret != -EINTR)
			break;
	}
	nl_close(&ctx);
	return ret;
}
