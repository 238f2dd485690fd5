// SPDX-License-Identifier: GPL-2.0
/*
 * wgnl: a raw generic netlink client for the selftests.  It sends requests
 * that wg(8) never would (unknown flag bits, wrong lengths, prefix lengths
 * out of range) and reports the kernel's errno and extack message, and it
 * dumps a device counting the messages and NLM_F_DUMP_INTR flags.
 *
 *   wgnl set IFACE PEERKEY [options] [+|-]ADDR/CIDR...
 *	--replace         WGPEER_F_REPLACE_ALLOWEDIPS
 *	--update-only     WGPEER_F_UPDATE_ONLY
 *	--flags N         send WGALLOWEDIP_A_FLAGS = N on every prefix
 *	--addrlen N       send N bytes of address instead of 4 or 16
 *	--family N        send family N instead of the address's
 *	--protocol N      send WGPEER_A_PROTOCOL_VERSION N with the peer
 *   wgnl dump IFACE [--slow MS] [--then COMMAND]
 *	prints "messages N interrupted N peers N allowedips N"; --slow waits MS
 *	before each read, --then runs COMMAND (sh -c) once the first part of
 *	the dump has been read, so that it changes the device mid-dump
 *   wgnl limit IFACE [N]
 *	sets WGDEVICE_A_PEER_LIMIT to N, or prints the device's ("none" when
 *	the kernel does not report one)
 *
 * Exit status: 0 on success, 1 when the kernel refused (errno and extack on
 * stdout as "error: NAME: MESSAGE"), 2 on a usage or local error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../include/uapi/linux/wireguard.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static struct mnl_socket *nl;
static unsigned int portid;
static char buf[1 << 20];

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A WireGuard key: 44 characters of base64 ending in '='. */
static bool parse_key(unsigned char key[WG_KEY_LEN], const char *text)
{
	unsigned int acc = 0, bits = 0, n = 0;
	int i;

	if (strlen(text) != 44 || text[43] != '=')
		return false;
	for (i = 0; i < 43; i++) {
		int v = b64_value(text[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			key[n++] = acc >> bits;
		}
	}
	return n == WG_KEY_LEN;
}

static int family_id(void)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;
	struct nlattr *attr;
	int len, id = -1;

	nlh->nlmsg_type = GENL_ID_CTRL;
	/* No NLM_F_ACK: the reply alone answers, and no ack is left queued. */
	nlh->nlmsg_flags = NLM_F_REQUEST;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("send");
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len < 0)
		die("recv");
	nlh = (struct nlmsghdr *)buf;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		fprintf(stderr, "wgnl: no \"%s\" generic netlink family\n", WG_GENL_NAME);
		exit(2);
	}
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID)
			id = mnl_attr_get_u16(attr);
	return id;
}

/* Prints the error of an ack and returns its errno (0 for success). */
static int report_ack(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	const char *msg = "";
	unsigned int offset;

	if (!err->error)
		return 0;
	offset = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += mnl_nlmsg_get_payload_len(&err->msg);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mnl_attr_for_each(attr, nlh, offset)
			if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
				msg = mnl_attr_get_str(attr);
	printf("error: %s: %s\n", strerror(-err->error), msg);
	return -err->error;
}

struct set_opts {
	bool replace;
	bool update_only;
	long flags;		/* -1: none */
	long addrlen;		/* -1: natural */
	long family;		/* -1: natural */
	long protocol;		/* -1: no WGPEER_A_PROTOCOL_VERSION */
};

static void put_prefix(struct nlmsghdr *nlh, const char *text,
		       const struct set_opts *opts)
{
	unsigned char addr[16] = { 0 };
	char ip[64], *slash;
	struct nlattr *nest;
	bool remove = false;
	int family, len;
	long cidr;

	if (*text == '+' || *text == '-')
		remove = *text++ == '-';
	snprintf(ip, sizeof(ip), "%s", text);
	slash = strchr(ip, '/');
	if (!slash) {
		fprintf(stderr, "wgnl: prefix without /CIDR: %s\n", text);
		exit(2);
	}
	*slash = '\0';
	cidr = strtol(slash + 1, NULL, 10);
	if (inet_pton(AF_INET, ip, addr) == 1) {
		family = AF_INET;
		len = 4;
	} else if (inet_pton(AF_INET6, ip, addr) == 1) {
		family = AF_INET6;
		len = 16;
	} else {
		fprintf(stderr, "wgnl: bad address: %s\n", ip);
		exit(2);
	}
	if (opts->addrlen >= 0)
		len = opts->addrlen > 16 ? 16 : opts->addrlen;
	if (opts->family >= 0)
		family = opts->family;

	nest = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, family);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, len, addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
	if (opts->flags >= 0)
		mnl_attr_put_u32(nlh, WGALLOWEDIP_A_FLAGS, opts->flags);
	else if (remove)
		mnl_attr_put_u32(nlh, WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME);
	mnl_attr_nest_end(nlh, nest);
}

static int cmd_set(int id, int argc, char **argv)
{
	struct set_opts opts = { .flags = -1, .addrlen = -1, .family = -1,
				 .protocol = -1 };
	struct nlattr *peers, *peer, *ips;
	unsigned char key[WG_KEY_LEN];
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;
	int i = 2, len;

	if (argc < 2 || !parse_key(key, argv[1])) {
		fprintf(stderr, "wgnl set: IFACE and a base64 peer key needed\n");
		return 2;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = WG_CMD_SET_DEVICE;
	genl->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, argv[0]);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--replace"))
			opts.replace = true;
		else if (!strcmp(argv[i], "--update-only"))
			opts.update_only = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--flags"))
			opts.flags = strtol(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--addrlen"))
			opts.addrlen = strtol(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--family"))
			opts.family = strtol(argv[++i], NULL, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--protocol"))
			opts.protocol = strtol(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "wgnl set: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (opts.replace || opts.update_only)
		mnl_attr_put_u32(nlh, WGPEER_A_FLAGS,
				 (opts.replace ? WGPEER_F_REPLACE_ALLOWEDIPS : 0) |
				 (opts.update_only ? WGPEER_F_UPDATE_ONLY : 0));
	if (opts.protocol >= 0)
		mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, opts.protocol);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	for (; i < argc; i++)
		put_prefix(nlh, argv[i], &opts);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("send");
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len < 0)
		die("recv");
	nlh = (struct nlmsghdr *)buf;
	if (nlh->nlmsg_type != NLMSG_ERROR) {
		fprintf(stderr, "wgnl set: unexpected reply type %u\n", nlh->nlmsg_type);
		return 2;
	}
	return report_ack(nlh) ? 1 : 0;
}

struct dump_counts {
	unsigned long messages, interrupted, peers, allowedips;
	long peer_limit;	/* WGDEVICE_A_PEER_LIMIT, -1 when absent */
};

static void count_peers(const struct nlattr *peers, struct dump_counts *counts)
{
	const struct nlattr *peer, *attr, *ip;

	mnl_attr_for_each_nested(peer, peers) {
		counts->peers++;
		mnl_attr_for_each_nested(attr, peer)
			if (mnl_attr_get_type(attr) == WGPEER_A_ALLOWEDIPS)
				mnl_attr_for_each_nested(ip, attr)
					counts->allowedips++;
	}
}

/* Reads the whole dump of @ifname into @counts; 0, or 1 when refused. */
static int dump_device(int id, const char *ifname, long slow_ms,
		       const char *then_cmd, struct dump_counts *counts)
{
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;
	struct nlattr *attr;
	bool done = false;
	int len;

	*counts = (struct dump_counts){ .peer_limit = -1 };
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = WG_CMD_GET_DEVICE;
	genl->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("send");

	while (!done) {
		struct timespec pause = { slow_ms / 1000, (slow_ms % 1000) * 1000000 };

		if (slow_ms)
			nanosleep(&pause, NULL);
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0)
			die("recv");
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return report_ack(nlh) ? 1 : 0;
			counts->messages++;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				counts->interrupted++;
			mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
				if (mnl_attr_get_type(attr) == WGDEVICE_A_PEERS)
					count_peers(attr, counts);
				else if (mnl_attr_get_type(attr) == WGDEVICE_A_PEER_LIMIT &&
					 mnl_attr_get_payload_len(attr) == 4)
					counts->peer_limit = mnl_attr_get_u32(attr);
			}
		}
		/*
		 * The kernel builds the next part as this one is read, so a
		 * change made now shows from the part after next: a dump that
		 * is to see it needs three parts or more.
		 */
		if (then_cmd && !done) {
			if (system(then_cmd) != 0)
				fprintf(stderr, "wgnl dump: \"%s\" failed\n", then_cmd);
			then_cmd = NULL;
		}
	}
	return 0;
}

static int cmd_dump(int id, int argc, char **argv)
{
	const char *then_cmd = NULL;
	struct dump_counts counts;
	long slow_ms = 0;
	int i, ret;

	if (argc < 1) {
		fprintf(stderr, "wgnl dump: IFACE needed\n");
		return 2;
	}
	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--slow")) {
			slow_ms = strtol(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--then")) {
			then_cmd = argv[i + 1];
		} else {
			fprintf(stderr, "wgnl dump: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	ret = dump_device(id, argv[0], slow_ms, then_cmd, &counts);
	if (ret)
		return ret;
	printf("messages %lu interrupted %lu peers %lu allowedips %lu\n",
	       counts.messages, counts.interrupted, counts.peers,
	       counts.allowedips);
	return 0;
}

static int limit_set(int id, const char *ifname, unsigned long limit)
{
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;
	int len;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = WG_CMD_SET_DEVICE;
	genl->version = WG_GENL_VERSION;
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	mnl_attr_put_u32(nlh, WGDEVICE_A_PEER_LIMIT, limit);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		die("send");
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len < 0)
		die("recv");
	return report_ack((struct nlmsghdr *)buf) ? 1 : 0;
}

static int cmd_limit(int id, int argc, char **argv)
{
	struct dump_counts counts;
	int ret;

	if (argc < 1) {
		fprintf(stderr, "wgnl limit: IFACE needed\n");
		return 2;
	}
	if (argc >= 2)
		return limit_set(id, argv[0], strtoul(argv[1], NULL, 0));
	ret = dump_device(id, argv[0], 0, NULL, &counts);
	if (ret)
		return ret;
	if (counts.peer_limit < 0)
		printf("none\n");
	else
		printf("%ld\n", counts.peer_limit);
	return 0;
}

int main(int argc, char **argv)
{
	int one = 1, id;

	if (argc < 3) {
		fprintf(stderr, "usage: wgnl set IFACE PEERKEY [options] [+|-]ADDR/CIDR...\n"
				"       wgnl dump IFACE [--slow MS]\n"
				"       wgnl limit IFACE [N]\n");
		return 2;
	}
	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		die("socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("bind");
	portid = mnl_socket_get_portid(nl);
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	id = family_id();
	if (id < 0)
		return 2;
	if (!strcmp(argv[1], "set"))
		return cmd_set(id, argc - 2, argv + 2);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(id, argc - 2, argv + 2);
	if (!strcmp(argv[1], "limit"))
		return cmd_limit(id, argc - 2, argv + 2);
	fprintf(stderr, "wgnl: unknown command %s\n", argv[1]);
	return 2;
}
