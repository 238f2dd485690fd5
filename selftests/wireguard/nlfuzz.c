// SPDX-License-Identifier: GPL-2.0
/*
 * nlfuzz: hostile input for the "wireguard" generic netlink family.
 *
 *   nlfuzz IFACE [--seed N] [--count N] [--seconds S] [--timeout MS]
 *                [--model IFACE2 [--model-netns PATH]] [--tamper]
 *                [--hex N] [--verbose]
 *
 * IFACE is a scratch WireGuard device.  It receives random and mutated
 * WG_CMD_SET_DEVICE and WG_CMD_GET_DEVICE requests: well-formed skeletons
 * spoilt a little or a lot (wrong lengths, types, nesting, flags, families,
 * prefix lengths, truncation, oversized attributes and nests, huge peer and
 * allowed-IP counts), random attribute soup, bad headers and batches.
 *
 * IFACE2, which must live in another network namespace (PATH, e.g.
 * /run/netns/NAME) so that no corruption can ever reach it, receives only
 * valid requests, interleaved with the others.  The program keeps a model
 * of what they should have made of it, written from the documented
 * semantics (Documentation/wireguard-netlink.rst), and compares it with a
 * dump every so often and at the end.  Peers present when it starts are
 * left as they are (a tunnel may run over the device); at the end its
 * private key and listen port are set back to what they were.
 *
 * What fails a run:
 *  - a request the kernel does not answer within the timeout (a hang);
 *  - a valid request that the kernel refuses;
 *  - a dump of IFACE2 that differs from the model (order included: peers
 *    in creation order, allowed IPs in the order each peer got them);
 *  - a refused SET_DEVICE that changed IFACE anyway (checked on a sample:
 *    the driver checks a request whole before applying any of it);
 *  - a malformed dump, or one flagged NLM_F_DUMP_INTR although nothing
 *    changed the device while it ran.
 *
 * The run is reproducible: the same seed gives the same requests.  --hex N
 * prints request number N; --verbose prints every request's outcome.
 * --tamper changes the model behind the program's back before the final
 * comparison, to show that the comparison can fail.
 *
 * Prints one summary line: requests, seed, outcomes by errno; exits 0 only
 * when nothing above went wrong, 1 when something did, 2 on a usage or
 * local error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../include/uapi/linux/wireguard.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define KEY_LEN WG_KEY_LEN
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A result no errno can be: the kernel never answered. */
#define NO_ANSWER 100000
#define MAX_ERRNO 4096

/* --- options and counters ----------------------------------------------- */

static struct {
	uint64_t seed;
	unsigned long count;
	unsigned long seconds;
	int timeout_ms;
	const char *iface;
	const char *model_iface;
	const char *model_netns;
	bool tamper;
	bool verbose;
	long hex;
} opt = { .seed = 1, .count = 20000, .seconds = 0, .timeout_ms = 30000, .hex = -1 };

static struct {
	unsigned long requests;		/* messages sent, every kind */
	unsigned long fuzz;		/* to the scratch device */
	unsigned long valid;		/* to the model device */
	unsigned long checks;		/* the program's own dumps */
	unsigned long model_checks;
	unsigned long atomic_checks;
	unsigned long batches;
	unsigned long outcome[MAX_ERRNO + 1];
	unsigned long failures;
} stats;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* A reason for the run to fail; the run goes on unless it cannot. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	stats.failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* --- randomness ------------------------------------------------------------ */

/*
 * splitmix64: tiny, and the same sequence on every machine and libc, which
 * rand() does not promise.  Everything random comes from this one stream,
 * so a seed replays a run request for request.
 */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static bool one_in(uint32_t n)
{
	return below(n) == 0;
}

static void rnd_bytes(void *p, size_t len)
{
	uint8_t *b = p;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			v = rnd();
		b[i] = v;
		v >>= 8;
	}
}

static uint32_t pick_of(const uint32_t *v, size_t n)
{
	return v[below(n)];
}

#define PICK(...) pick_of((const uint32_t[]){ __VA_ARGS__ }, \
			  sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))

/*
 * Small pools of keys: requests that name the same peers again and again
 * reach the update, removal and move paths, which fresh keys never would.
 */
#define PUB_POOL 48
static uint8_t pool_pub[PUB_POOL][KEY_LEN];
static uint8_t pool_priv[8][KEY_LEN];
static uint8_t pool_psk[8][KEY_LEN];

/* Random bytes to draw oversized payloads from. */
static uint8_t junk[96 * 1024];

static void pools_init(void)
{
	rnd_bytes(pool_pub, sizeof(pool_pub));
	rnd_bytes(pool_priv, sizeof(pool_priv));
	rnd_bytes(pool_psk, sizeof(pool_psk));
	rnd_bytes(junk, sizeof(junk));
}

/* --- netlink ---------------------------------------------------------------- */

struct conn {
	struct mnl_socket *nl;
	int fd;
	unsigned int portid;
	uint16_t family;
	uint32_t seq;
	const char *ifname;
	uint32_t ifindex;
};

/* What a reader wants from the data messages of a dump. */
struct sink {
	void (*data)(const struct nlmsghdr *nlh, void *arg);
	void *arg;
	unsigned long messages;
	unsigned long interrupted;
};

static uint8_t rbuf[1 << 20];
static char last_extack[256];

static void set_buf(int fd, int force, int plain, int size)
{
	/* Root may exceed the sysctl limits; anyone else gets what it gets. */
	if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size));
}

/*
 * A generic netlink socket in the network namespace at @netns (or in ours):
 * a netlink socket keeps the namespace it was made in, so one process can
 * talk to devices in two namespaces.
 */
static void conn_open(struct conn *c, const char *netns)
{
	int self = -1, target, one = 1;

	if (netns) {
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(netns, O_RDONLY | O_CLOEXEC);
		if (self < 0 || target < 0)
			die(netns);
		if (setns(target, CLONE_NEWNET))
			die("setns");
		close(target);
	}
	c->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!c->nl)
		die("socket");
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("bind");
	c->fd = mnl_socket_get_fd(c->nl);
	c->portid = mnl_socket_get_portid(c->nl);
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	/* Errors must not echo our largest requests back at us. */
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	set_buf(c->fd, SO_SNDBUFFORCE, SO_SNDBUF, 4 << 20);
	set_buf(c->fd, SO_RCVBUFFORCE, SO_RCVBUF, 8 << 20);
	if (netns) {
		if (setns(self, CLONE_NEWNET))
			die("setns back");
		close(self);
	}
}

static void read_extack(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	unsigned int offset = sizeof(*err);

	last_extack[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += mnl_nlmsg_get_payload_len(&err->msg);
	mnl_attr_for_each(attr, nlh, offset)
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(last_extack, sizeof(last_extack), "%s",
				 mnl_attr_get_str(attr));
}

/* The final answer a message got, or -1 for a data message. */
static int final_answer(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		/* Positive: the results are errno values, 0 for success. */
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
			return EBADMSG;
		err = mnl_nlmsg_get_payload(nlh);
		read_extack(nlh);
		return -err->error;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		/* Since 4.x the DONE of a dump carries the dump's error. */
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
			return -*(const int *)mnl_nlmsg_get_payload(nlh);
		return 0;
	}
	return -1;
}

/*
 * Reads until each of the @n messages sent with sequence numbers @first on
 * has its final answer: an ack (error 0 for success) or the NLMSG_DONE of a
 * dump.  results[i] gets the errno (0 for success).  Returns false when the
 * kernel stayed silent for the whole timeout: those results are NO_ANSWER.
 * Messages of other sequence numbers are leftovers and are skipped.
 */
static bool await(struct conn *c, uint32_t first, unsigned int n, int *results,
		  struct sink *sink)
{
	unsigned int left = n, i;

	for (i = 0; i < n; i++)
		results[i] = NO_ANSWER;
	while (left) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		struct nlmsghdr *nlh;
		int len, ret;

		/* Past the watchdog's limit: it reports, with more to say. */
		ret = poll(&pfd, 1, opt.timeout_ms + 5000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			die("poll");
		if (ret == 0)
			return false;
		len = recv(c->fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (len < 0 && errno == ENOBUFS) {
			/* We wait for every answer, so this must not happen. */
			fail("netlink receive queue overrun: answers were lost");
			continue;
		}
		if (len < 0)
			die("recv");
		for (nlh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			uint32_t idx = nlh->nlmsg_seq - first;
			int answer;

			if (idx >= n)
				continue;
			answer = final_answer(nlh);
			if (answer >= 0) {
				if (results[idx] == NO_ANSWER) {
					results[idx] = answer;
					left--;
				}
				continue;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (sink) {
				sink->messages++;
				if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
					sink->interrupted++;
				if (sink->data)
					sink->data(nlh, sink->arg);
			}
		}
	}
	return true;
}

/* The first @len bytes of a request, as "#   " lines of 32 bytes. */
static void hexdump_upto(const void *p, size_t len, size_t max)
{
	const uint8_t *b = p;
	size_t i;

	if (len > max) {
		hexdump_upto(p, max, max);
		printf("#   ... and %zu bytes more (--hex shows all)\n", len - max);
		return;
	}
	for (i = 0; i < len; i++)
		printf("%s%02x%s", i % 32 ? "" : "#   ", b[i],
		       i % 32 == 31 || i + 1 == len ? "\n" : "");
}

static void hexdump(const void *p, size_t len)
{
	hexdump_upto(p, len, 4096);
}

static const char *errno_name(int e)
{
	static char name[16];
	const char *s;

	if (e == 0)
		return "ok";
	if (e == NO_ANSWER)
		return "no-answer";
	s = strerrorname_np(e);
	if (s)
		return s;
	snprintf(name, sizeof(name), "errno%d", e);
	return name;
}

/* --- building messages ---------------------------------------------------------- */

/* The largest request we build; the buffer leaves room for a batch of them. */
#define MSG_SOFT_LIMIT (200 * 1024)
#define BUF_SIZE (1 << 20)
static uint8_t req_buf[BUF_SIZE];
/* The program's own dumps, which may come between building and sending. */
static uint8_t own_buf[4096];

struct msg {
	struct nlmsghdr *nlh;
	size_t cap;		/* bytes usable from nlh on */
	bool full;		/* past the soft limit: stop adding */
};

static bool msg_full(struct msg *m)
{
	if (m->nlh->nlmsg_len > MSG_SOFT_LIMIT)
		m->full = true;
	return m->full;
}

static void msg_start(struct msg *m, void *at, size_t cap, struct conn *c,
		      uint8_t cmd, uint16_t flags)
{
	struct genlmsghdr *genl;

	m->nlh = mnl_nlmsg_put_header(at);
	m->cap = cap;
	m->full = false;
	m->nlh->nlmsg_type = c->family;
	m->nlh->nlmsg_flags = flags;
	m->nlh->nlmsg_seq = ++c->seq;
	genl = mnl_nlmsg_put_extra_header(m->nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = WG_GENL_VERSION;
}

/*
 * Any attribute, of any length: nla_len is 16 bits, so a payload above
 * 65531 bytes wraps it, which the fuzzer wants now and then.  Only the
 * buffer's end is a hard limit.
 */
static void put(struct msg *m, uint16_t type, size_t len, const void *data)
{
	if (m->nlh->nlmsg_len + MNL_ATTR_HDRLEN + MNL_ALIGN(len) + 64 > m->cap) {
		m->full = true;
		return;
	}
	mnl_attr_put(m->nlh, type, len, data);
	msg_full(m);
}

/* @value in @width bytes, host order as netlink wants it. */
static void put_uint(struct msg *m, uint16_t type, uint64_t value, unsigned int width)
{
	uint8_t b[8];

	memcpy(b, &value, sizeof(b));	/* little-endian hosts only */
	put(m, type, width, b);
}

static struct nlattr *nest_start(struct msg *m, uint16_t type)
{
	struct nlattr *nest = mnl_nlmsg_get_payload_tail(m->nlh);

	put(m, type, 0, junk);
	return nest;
}

/* Like mnl_attr_nest_end(), wrapping silently when the nest is too big. */
static void nest_end(struct msg *m, struct nlattr *nest)
{
	nest->nla_len = (uint8_t *)mnl_nlmsg_get_payload_tail(m->nlh) - (uint8_t *)nest;
}

/* A nest the valid side built must never wrap: that would be our bug. */
static void nest_end_checked(struct msg *m, struct nlattr *nest)
{
	size_t len = (uint8_t *)mnl_nlmsg_get_payload_tail(m->nlh) - (uint8_t *)nest;

	if (len > 0xffff) {
		fprintf(stderr, "nlfuzz: internal error: valid nest of %zu bytes\n", len);
		exit(2);
	}
	nest_end(m, nest);
}

/* --- device state, as a dump shows it --------------------------------------- */

struct prefix {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t cidr;
	uint8_t addr[16];	/* bits beyond cidr are zero */
};

struct peer_state {
	uint8_t key[KEY_LEN];
	uint8_t psk[KEY_LEN];
	uint16_t keepalive;
	uint8_t endpoint_len;	/* 0: none */
	uint8_t endpoint[28];
	struct prefix *ips;
	unsigned int n_ips, cap_ips;
	bool pinned;		/* the model leaves it alone */
	unsigned long mark;	/* listed by the request being applied */
};

struct dev_state {
	uint32_t ifindex;
	bool has_key;
	uint8_t priv[KEY_LEN];
	uint16_t port;
	uint32_t fwmark;
	struct peer_state *peers;
	unsigned int n_peers, cap_peers;
	const char *malformed;	/* why the dump was not well-formed */
};

static void *grow(void *p, unsigned int *cap, unsigned int want, size_t size)
{
	if (want <= *cap)
		return p;
	*cap = want < 16 ? 16 : want * 2;
	p = realloc(p, *cap * size);
	if (!p)
		die("realloc");
	return p;
}

static void state_clear(struct dev_state *st)
{
	unsigned int i;

	for (i = 0; i < st->n_peers; i++)
		free(st->peers[i].ips);
	free(st->peers);
	memset(st, 0, sizeof(*st));
}

static void state_copy(struct dev_state *to, const struct dev_state *from)
{
	unsigned int i;

	state_clear(to);
	*to = *from;
	to->peers = NULL;
	to->cap_peers = 0;
	to->peers = grow(NULL, &to->cap_peers, from->n_peers, sizeof(*to->peers));
	for (i = 0; i < from->n_peers; i++) {
		struct peer_state *p = &to->peers[i];

		*p = from->peers[i];
		p->ips = NULL;
		p->cap_ips = 0;
		p->ips = grow(NULL, &p->cap_ips, p->n_ips, sizeof(*p->ips));
		memcpy(p->ips, from->peers[i].ips, p->n_ips * sizeof(*p->ips));
	}
}

static struct peer_state *peer_append(struct dev_state *st, const uint8_t *key)
{
	struct peer_state *p;

	st->peers = grow(st->peers, &st->cap_peers, st->n_peers + 1, sizeof(*p));
	p = &st->peers[st->n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, KEY_LEN);
	return p;
}

static void ip_append(struct peer_state *p, const struct prefix *ip)
{
	p->ips = grow(p->ips, &p->cap_ips, p->n_ips + 1, sizeof(*ip));
	p->ips[p->n_ips++] = *ip;
}

static unsigned int family_bytes(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static unsigned int family_bits(int family)
{
	return family == AF_INET6 ? 128 : 32;
}

/* Clears the host bits, as the driver does with what it is given. */
static void prefix_mask(struct prefix *ip)
{
	unsigned int i, bits = ip->cidr;

	for (i = 0; i < 16; i++) {
		if (i >= family_bytes(ip->family) || bits == 0)
			ip->addr[i] = 0;
		else if (bits < 8)
			ip->addr[i] &= 0xff00 >> bits;
		bits = bits > 8 ? bits - 8 : 0;
	}
}

static bool prefix_eq(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       !memcmp(a->addr, b->addr, 16);
}

static const char *prefix_str(const struct prefix *ip)
{
	static char s[2][64];
	static int which;
	char addr[INET6_ADDRSTRLEN];

	which ^= 1;
	inet_ntop(ip->family, ip->addr, addr, sizeof(addr));
	snprintf(s[which], sizeof(s[which]), "%s/%u", addr, ip->cidr);
	return s[which];
}

static const char *key_str(const uint8_t *key)
{
	static char s[2][20];
	static int which;

	which ^= 1;
	snprintf(s[which], sizeof(s[which]), "%02x%02x%02x%02x%02x%02x...",
		 key[0], key[1], key[2], key[3], key[4], key[5]);
	return s[which];
}

/* Keeps the first reason a dump was not well-formed; @why may be NULL. */
static void malformed(struct dev_state *st, const char *why)
{
	if (!st->malformed)
		st->malformed = why;
}

static bool len_is(const struct nlattr *attr, unsigned int len)
{
	return mnl_attr_get_payload_len(attr) == len;
}

/* Returns why the element is malformed, or NULL. */
static const char *parse_allowedip(const struct nlattr *elem, struct peer_state *p)
{
	const struct nlattr *attr, *addr = NULL;
	struct prefix ip = { 0 }, masked;
	bool has_cidr = false;

	mnl_attr_for_each_nested(attr, elem) {
		switch (mnl_attr_get_type(attr)) {
		case WGALLOWEDIP_A_FAMILY:
			if (!len_is(attr, 2))
				return "allowed IP family not a u16";
			ip.family = mnl_attr_get_u16(attr);
			break;
		case WGALLOWEDIP_A_IPADDR:
			addr = attr;
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (!len_is(attr, 1))
				return "allowed IP prefix length not a u8";
			ip.cidr = mnl_attr_get_u8(attr);
			has_cidr = true;
			break;
		default:
			return "unknown attribute in an allowed IP";
		}
	}
	if ((ip.family != AF_INET && ip.family != AF_INET6) || !addr || !has_cidr)
		return "allowed IP without family, address or prefix length";
	if (!len_is(addr, family_bytes(ip.family)) || ip.cidr > family_bits(ip.family))
		return "allowed IP address length or prefix length wrong";
	memcpy(ip.addr, mnl_attr_get_payload(addr), family_bytes(ip.family));
	masked = ip;
	prefix_mask(&masked);
	if (!prefix_eq(&masked, &ip))
		return "allowed IP with host bits set";
	ip_append(p, &ip);
	return NULL;
}

static bool endpoint_ok(const struct nlattr *attr)
{
	const struct sockaddr *sa = mnl_attr_get_payload(attr);

	if (len_is(attr, sizeof(struct sockaddr_in)))
		return sa->sa_family == AF_INET;
	if (len_is(attr, sizeof(struct sockaddr_in6)))
		return sa->sa_family == AF_INET6;
	return false;
}

static bool peer_attr_ok(const struct nlattr *attr)
{
	switch (mnl_attr_get_type(attr)) {
	case WGPEER_A_PUBLIC_KEY:
	case WGPEER_A_PRESHARED_KEY:
		return len_is(attr, KEY_LEN);
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		return len_is(attr, 2);
	case WGPEER_A_ENDPOINT:
		return endpoint_ok(attr);
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		return len_is(attr, 16);
	case WGPEER_A_RX_BYTES:
	case WGPEER_A_TX_BYTES:
		return len_is(attr, 8);
	case WGPEER_A_PROTOCOL_VERSION:
		return len_is(attr, 4) && mnl_attr_get_u32(attr) == 1;
	case WGPEER_A_ALLOWEDIPS:
		return true;
	}
	return false;
}

/*
 * One peer element.  An element with the key of the peer before it
 * continues that peer (its allowed IPs did not fit one message): only its
 * allowed IPs count, the other attributes come from the first element.
 */
static const char *parse_peer(const struct nlattr *elem, struct dev_state *st)
{
	const struct nlattr *attr, *first = NULL, *ip;
	const char *why = NULL;
	struct peer_state *p;
	bool continuing;

	mnl_attr_for_each_nested(attr, elem) {
		first = attr;
		break;
	}
	if (!first || mnl_attr_get_type(first) != WGPEER_A_PUBLIC_KEY ||
	    !len_is(first, KEY_LEN))
		return "peer element does not start with its public key";
	continuing = st->n_peers &&
		     !memcmp(st->peers[st->n_peers - 1].key,
			     mnl_attr_get_payload(first), KEY_LEN);
	p = continuing ? &st->peers[st->n_peers - 1] :
			 peer_append(st, mnl_attr_get_payload(first));

	mnl_attr_for_each_nested(attr, elem) {
		if (!peer_attr_ok(attr))
			return "peer attribute unknown or of a wrong length";
		if (continuing && mnl_attr_get_type(attr) != WGPEER_A_ALLOWEDIPS)
			continue;
		switch (mnl_attr_get_type(attr)) {
		case WGPEER_A_PRESHARED_KEY:
			memcpy(p->psk, mnl_attr_get_payload(attr), KEY_LEN);
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			p->keepalive = mnl_attr_get_u16(attr);
			break;
		case WGPEER_A_ENDPOINT:
			p->endpoint_len = mnl_attr_get_payload_len(attr);
			memcpy(p->endpoint, mnl_attr_get_payload(attr), p->endpoint_len);
			break;
		case WGPEER_A_ALLOWEDIPS:
			mnl_attr_for_each_nested(ip, attr)
				if (!why)
					why = parse_allowedip(ip, p);
			break;
		}
	}
	return why;
}

static const char *parse_device_attr(const struct nlattr *attr, struct dev_state *st)
{
	const struct nlattr *peer;
	const char *why = NULL;

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_IFINDEX:
		if (!len_is(attr, 4))
			return "ifindex not a u32";
		st->ifindex = mnl_attr_get_u32(attr);
		break;
	case WGDEVICE_A_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return "ifname not a string";
		break;
	case WGDEVICE_A_LISTEN_PORT:
		if (!len_is(attr, 2))
			return "listen port not a u16";
		st->port = mnl_attr_get_u16(attr);
		break;
	case WGDEVICE_A_FWMARK:
		if (!len_is(attr, 4))
			return "fwmark not a u32";
		st->fwmark = mnl_attr_get_u32(attr);
		break;
	case WGDEVICE_A_PRIVATE_KEY:
		if (!len_is(attr, KEY_LEN))
			return "private key not 32 bytes";
		st->has_key = true;
		memcpy(st->priv, mnl_attr_get_payload(attr), KEY_LEN);
		break;
	case WGDEVICE_A_PUBLIC_KEY:
		if (!len_is(attr, KEY_LEN))
			return "public key not 32 bytes";
		break;
	case WGDEVICE_A_PEER_LIMIT:	/* our extension */
		if (!len_is(attr, 4))
			return "peer limit not a u32";
		if (mnl_attr_get_u32(attr) < 1 || mnl_attr_get_u32(attr) > 1U << 20)
			return "peer limit out of range";
		break;
	case WGDEVICE_A_PEERS:
		mnl_attr_for_each_nested(peer, attr)
			if (!why)
				why = parse_peer(peer, st);
		return why;
	default:
		return "unknown device attribute";
	}
	return NULL;
}

/* struct sink callback: one message of a GET_DEVICE dump. */
static void parse_dump_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct dev_state *st = arg;
	const struct nlattr *attr;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr)) {
		malformed(st, "dump message without a genetlink header");
		return;
	}
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		malformed(st, parse_device_attr(attr, st));
}

/* The endpoints compare as what was configured: family, port, address. */
static bool endpoint_eq(const struct peer_state *a, const struct peer_state *b)
{
	return a->endpoint_len == b->endpoint_len &&
	       !memcmp(a->endpoint, b->endpoint, a->endpoint_len);
}

static bool peer_diff(const struct peer_state *want, const struct peer_state *got,
		      char *why, size_t len)
{
	unsigned int i;

	if (memcmp(want->psk, got->psk, KEY_LEN))
		snprintf(why, len, "peer %s: preshared key differs", key_str(want->key));
	else if (want->keepalive != got->keepalive)
		snprintf(why, len, "peer %s: keepalive %u, want %u", key_str(want->key),
			 got->keepalive, want->keepalive);
	else if (!endpoint_eq(want, got))
		snprintf(why, len, "peer %s: endpoint differs (%u bytes, want %u)",
			 key_str(want->key), got->endpoint_len, want->endpoint_len);
	else if (want->n_ips != got->n_ips)
		snprintf(why, len, "peer %s: %u allowed IPs, want %u", key_str(want->key),
			 got->n_ips, want->n_ips);
	else
		for (i = 0; i < want->n_ips; i++)
			if (!prefix_eq(&want->ips[i], &got->ips[i])) {
				snprintf(why, len, "peer %s: allowed IP %u is %s, want %s",
					 key_str(want->key), i, prefix_str(&got->ips[i]),
					 prefix_str(&want->ips[i]));
				break;
			}
	return why[0] != '\0';
}

/*
 * Compares two states in full, order included, and says how they differ
 * first.  Returns true when they differ.
 */
static bool state_diff(const struct dev_state *want, const struct dev_state *got,
		       bool with_port, char *why, size_t len)
{
	unsigned int i;

	why[0] = '\0';
	if (want->has_key != got->has_key ||
	    (want->has_key && memcmp(want->priv, got->priv, KEY_LEN)))
		snprintf(why, len, "private key differs (has one: %d, want %d)",
			 got->has_key, want->has_key);
	else if (with_port && want->port != got->port)
		snprintf(why, len, "listen port %u, want %u", got->port, want->port);
	else if (want->fwmark != got->fwmark)
		snprintf(why, len, "fwmark %#x, want %#x", got->fwmark, want->fwmark);
	else if (want->n_peers != got->n_peers)
		snprintf(why, len, "%u peers, want %u", got->n_peers, want->n_peers);
	else
		for (i = 0; i < want->n_peers; i++) {
			if (memcmp(want->peers[i].key, got->peers[i].key, KEY_LEN)) {
				snprintf(why, len, "peer %u is %s, want %s", i,
					 key_str(got->peers[i].key),
					 key_str(want->peers[i].key));
				break;
			}
			if (peer_diff(&want->peers[i], &got->peers[i], why, len))
				break;
		}
	return why[0] != '\0';
}

/* --- sending ----------------------------------------------------------------- */

/* Whether --hex asked for one of the @n messages about to be sent. */
static bool hex_wanted(unsigned int n)
{
	return opt.hex >= 0 && (unsigned long)opt.hex >= stats.requests &&
	       (unsigned long)opt.hex < stats.requests + n;
}

/*
 * The request in flight, for the watchdog: a SET_DEVICE runs inside our
 * sendmsg(), so a driver that deadlocks blocks us there, where no poll()
 * timeout can notice.  @flight_ms is 0 while nothing is in flight.
 */
static long long flight_ms;
static unsigned long flight_request;
static const char *flight_what;
static const uint8_t *flight_buf;
static size_t flight_len;
static const struct conn *flight_conn;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Prints the lines of @path that contain @match (all when NULL). */
static void show_file(const char *path, const char *match)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!match || strstr(line, match))
			printf("#   %s: %s", path, line);
	fclose(f);
}

/*
 * What a hang report needs to tell a kernel bug from a lost answer: where
 * our threads wait in the kernel, and whether our socket still has a dump
 * running or answers queued (the Dump and Rmem columns).
 */
static void show_where(void)
{
	char path[64], portid[16];
	int tid;

	for (tid = getpid(); tid < getpid() + 4; tid++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
		show_file(path, NULL);
	}
	snprintf(portid, sizeof(portid), " %u ", flight_conn->portid);
	show_file("/proc/net/netlink", "sk ");
	show_file("/proc/net/netlink", portid);
}

static void report_hang(void)
{
	char line[200];
	int fd;

	snprintf(line, sizeof(line),
		 "nlfuzz: no answer within %d ms to request %lu (%s, seed %llu)\n",
		 opt.timeout_ms, flight_request, flight_what,
		 (unsigned long long)opt.seed);
	stats.failures++;
	printf("FAIL: %s# it was:\n", line);
	hexdump(flight_buf, flight_len);
	show_where();
	fflush(stdout);
	/* Into the kernel log too: it reaches the console even if we cannot exit. */
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			perror("/dev/kmsg");
		close(fd);
	}
}

static void *watchdog(void *arg)
{
	long long since;

	(void)arg;
	for (;;) {
		sleep(1);
		since = __atomic_load_n(&flight_ms, __ATOMIC_ACQUIRE);
		if (since && now_ms() - since > opt.timeout_ms) {
			report_hang();
			_exit(1);
		}
	}
	return NULL;
}

/*
 * Every message's nlmsg_len must lie within the datagram: the netlink core
 * drops a datagram whose header promises more than it holds, silently, and
 * that would look like a hang.  Only a bug of ours could break this.
 */
static void check_datagram(const uint8_t *buf, size_t len, unsigned int n)
{
	const struct nlmsghdr *nlh;
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		nlh = (const struct nlmsghdr *)(buf + off);
		if (off + NLMSG_HDRLEN > len || nlh->nlmsg_len < NLMSG_HDRLEN ||
		    off + nlh->nlmsg_len > len) {
			fprintf(stderr, "nlfuzz: internal error: message %u of a datagram of %zu bytes is inconsistent\n",
				i, len);
			exit(2);
		}
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
}

/*
 * Sends @n messages that start at @buf as one datagram and collects
 * their answers.  A hang ends the run: nothing after it could be trusted.
 */
static void transact(struct conn *c, const uint8_t *buf, size_t len, unsigned int n,
		     int *results, struct sink *sink, const char *what)
{
	uint32_t first = ((const struct nlmsghdr *)buf)->nlmsg_seq;
	unsigned int i;
	bool answered;
	int ret;

	check_datagram(buf, len, n);
	if (hex_wanted(n)) {
		printf("# request %lu (%s, %zu bytes):\n", stats.requests, what, len);
		hexdump_upto(buf, len, len);
	}
	flight_request = stats.requests;
	flight_what = what;
	flight_buf = buf;
	flight_len = len;
	flight_conn = c;
	__atomic_store_n(&flight_ms, now_ms(), __ATOMIC_RELEASE);
	stats.requests += n;
	ret = mnl_socket_sendto(c->nl, buf, len);
	if (ret < 0) {
		/* Refused locally, before the kernel's family saw it. */
		for (i = 0; i < n; i++)
			results[i] = errno;
		__atomic_store_n(&flight_ms, 0, __ATOMIC_RELEASE);
		return;
	}
	answered = await(c, first, n, results, sink);
	__atomic_store_n(&flight_ms, 0, __ATOMIC_RELEASE);
	if (answered)
		return;
	report_hang();
	exit(1);
}

/*
 * Dumps a device into @st.  Returns the errno of the dump (0 on success).
 * Only this program changes the devices it dumps, and never during a dump,
 * so the dump must come complete, well-formed and not flagged interrupted.
 */
static int dump_device(struct conn *c, struct dev_state *st)
{
	struct sink sink = { .data = parse_dump_msg, .arg = st };
	struct msg m;
	int ret;

	state_clear(st);
	msg_start(&m, own_buf, sizeof(own_buf), c, WG_CMD_GET_DEVICE,
		  NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
	put(&m, WGDEVICE_A_IFNAME, strlen(c->ifname) + 1, c->ifname);
	stats.checks++;
	transact(c, own_buf, m.nlh->nlmsg_len, 1, &ret, &sink, "check dump");
	if (ret)
		return ret;
	if (st->malformed)
		fail("dump of %s is malformed: %s", c->ifname, st->malformed);
	if (sink.interrupted)
		fail("dump of %s flagged NLM_F_DUMP_INTR in %lu of %lu messages, though nothing changed it",
		     c->ifname, sink.interrupted, sink.messages);
	return 0;
}

/* --- valid requests and the model ----------------------------------------- */

struct vip {
	struct prefix ip;	/* as sent: host bits may be set */
	bool remove;
};

struct vpeer {
	uint8_t key[KEY_LEN];
	bool has_flags;
	uint32_t flags;
	bool has_psk;
	uint8_t psk[KEY_LEN];
	bool has_keepalive;
	uint16_t keepalive;
	uint8_t endpoint_len;
	uint8_t endpoint[28];
	bool has_ips;
	struct vip *ips;
	unsigned int n_ips;
};

#define VREQ_PEERS 64
#define VREQ_IPS 2048

/* A valid SET_DEVICE request, both sent and applied to the model. */
struct vreq {
	bool by_index;
	bool has_priv;
	uint8_t priv[KEY_LEN];
	bool has_port;
	uint16_t port;
	bool has_fwmark;
	uint32_t fwmark;
	bool has_flags;
	uint32_t flags;
	bool has_peers;
	struct vpeer peers[VREQ_PEERS];
	unsigned int n_peers;
	struct vip ips[VREQ_IPS];
	unsigned int n_ips;
};

static struct vreq vreq;

static void encode_vip(struct msg *m, const struct vip *v)
{
	struct nlattr *nest = nest_start(m, 0);

	put_uint(m, WGALLOWEDIP_A_FAMILY, v->ip.family, 2);
	put(m, WGALLOWEDIP_A_IPADDR, family_bytes(v->ip.family), v->ip.addr);
	put_uint(m, WGALLOWEDIP_A_CIDR_MASK, v->ip.cidr, 1);
	if (v->remove)
		put_uint(m, WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME, 4);
	nest_end_checked(m, nest);
}

static void encode_vpeer(struct msg *m, const struct vpeer *p)
{
	struct nlattr *nest = nest_start(m, 0), *ips;
	unsigned int i;

	put(m, WGPEER_A_PUBLIC_KEY, KEY_LEN, p->key);
	if (p->has_flags)
		put_uint(m, WGPEER_A_FLAGS, p->flags, 4);
	if (p->has_psk)
		put(m, WGPEER_A_PRESHARED_KEY, KEY_LEN, p->psk);
	if (p->endpoint_len)
		put(m, WGPEER_A_ENDPOINT, p->endpoint_len, p->endpoint);
	if (p->has_keepalive)
		put_uint(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive, 2);
	if (p->has_ips) {
		ips = nest_start(m, WGPEER_A_ALLOWEDIPS);
		for (i = 0; i < p->n_ips; i++)
			encode_vip(m, &p->ips[i]);
		nest_end_checked(m, ips);
	}
	nest_end_checked(m, nest);
}

static void encode_vreq(struct msg *m, struct conn *c, const struct vreq *r)
{
	struct nlattr *peers;
	unsigned int i;

	msg_start(m, req_buf, BUF_SIZE, c, WG_CMD_SET_DEVICE, NLM_F_REQUEST | NLM_F_ACK);
	if (r->by_index)
		put_uint(m, WGDEVICE_A_IFINDEX, c->ifindex, 4);
	else
		put(m, WGDEVICE_A_IFNAME, strlen(c->ifname) + 1, c->ifname);
	if (r->has_priv)
		put(m, WGDEVICE_A_PRIVATE_KEY, KEY_LEN, r->priv);
	if (r->has_port)
		put_uint(m, WGDEVICE_A_LISTEN_PORT, r->port, 2);
	if (r->has_fwmark)
		put_uint(m, WGDEVICE_A_FWMARK, r->fwmark, 4);
	if (r->has_flags)
		put_uint(m, WGDEVICE_A_FLAGS, r->flags, 4);
	if (r->has_peers) {
		peers = nest_start(m, WGDEVICE_A_PEERS);
		for (i = 0; i < r->n_peers; i++)
			encode_vpeer(m, &r->peers[i]);
		nest_end_checked(m, peers);
	}
	if (m->full) {
		fprintf(stderr, "nlfuzz: internal error: valid request too large\n");
		exit(2);
	}
}

/* --- applying a valid request to the model, as documented ------------------ */

static int find_peer(const struct dev_state *st, const uint8_t *key)
{
	unsigned int i;

	for (i = 0; i < st->n_peers; i++)
		if (!memcmp(st->peers[i].key, key, KEY_LEN))
			return i;
	return -1;
}

static int find_ip(const struct peer_state *p, const struct prefix *ip)
{
	unsigned int i;

	for (i = 0; i < p->n_ips; i++)
		if (prefix_eq(&p->ips[i], ip))
			return i;
	return -1;
}

static void ip_delete(struct peer_state *p, unsigned int i)
{
	memmove(&p->ips[i], &p->ips[i + 1], (p->n_ips - i - 1) * sizeof(*p->ips));
	p->n_ips--;
}

static void peer_delete(struct dev_state *st, unsigned int i)
{
	free(st->peers[i].ips);
	memmove(&st->peers[i], &st->peers[i + 1],
		(st->n_peers - i - 1) * sizeof(*st->peers));
	st->n_peers--;
}

/* The peer owning exactly @ip, if any: a prefix has at most one owner. */
static int ip_owner(const struct dev_state *st, const struct prefix *ip, int *at)
{
	unsigned int i;

	for (i = 0; i < st->n_peers; i++) {
		*at = find_ip(&st->peers[i], ip);
		if (*at >= 0)
			return i;
	}
	return -1;
}

/*
 * Adding moves a prefix from whoever had it to the end of this peer's list;
 * removing takes it only from this peer, and only when it has exactly it.
 */
static void model_allowedip(struct dev_state *st, unsigned int peer, const struct vip *v)
{
	struct prefix ip = v->ip;
	int owner, at;

	prefix_mask(&ip);
	owner = ip_owner(st, &ip, &at);
	if (v->remove) {
		if (owner == (int)peer)
			ip_delete(&st->peers[peer], at);
		return;
	}
	if (owner >= 0)
		ip_delete(&st->peers[owner], at);
	ip_append(&st->peers[peer], &ip);
}

static void clamp_key(uint8_t *key)
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

static void model_device(struct dev_state *st, const struct vreq *r)
{
	static const uint8_t zero[KEY_LEN];

	if (r->has_port)
		st->port = r->port;
	if (r->has_fwmark)
		st->fwmark = r->fwmark;
	if (r->has_priv) {
		/* An all-zero key leaves the device without identity. */
		st->has_key = memcmp(r->priv, zero, KEY_LEN) != 0;
		memcpy(st->priv, st->has_key ? r->priv : zero, KEY_LEN);
		if (st->has_key)
			clamp_key(st->priv);
	}
}

static void model_peer(struct dev_state *st, const struct vpeer *v, bool replacing,
		       unsigned long mark)
{
	static const uint8_t zero[KEY_LEN];
	uint32_t flags = v->has_flags ? v->flags : 0;
	bool created = false, reset;
	struct peer_state *p;
	unsigned int i;
	int at;

	at = find_peer(st, v->key);
	if (flags & WGPEER_F_REMOVE_ME) {
		if (at >= 0)
			peer_delete(st, at);
		return;
	}
	if (at < 0) {
		if (flags & WGPEER_F_UPDATE_ONLY)
			return;
		peer_append(st, v->key);
		at = st->n_peers - 1;
		created = true;
	}
	p = &st->peers[at];
	p->mark = mark;
	/* A replace leaves listed peers as if freshly made, endpoint aside. */
	reset = replacing && !created;
	if (v->has_psk || reset)
		memcpy(p->psk, v->has_psk ? v->psk : zero, KEY_LEN);
	if (v->endpoint_len) {
		p->endpoint_len = v->endpoint_len;
		memcpy(p->endpoint, v->endpoint, v->endpoint_len);
	}
	if (v->has_keepalive || reset)
		p->keepalive = v->has_keepalive ? v->keepalive : 0;
	if (reset || (flags & WGPEER_F_REPLACE_ALLOWEDIPS))
		p->n_ips = 0;
	for (i = 0; i < v->n_ips; i++)
		model_allowedip(st, at, &v->ips[i]);
}

static void model_apply(struct dev_state *st, const struct vreq *r)
{
	static unsigned long mark;
	bool replacing = r->has_flags && (r->flags & WGDEVICE_F_REPLACE_PEERS);
	unsigned int i;

	mark++;
	model_device(st, r);
	for (i = 0; i < r->n_peers; i++)
		model_peer(st, &r->peers[i], replacing, mark);
	if (!replacing)
		return;
	for (i = st->n_peers; i-- > 0;)
		if (st->peers[i].mark != mark)
			peer_delete(st, i);
}

/* --- generating valid requests for the model device ------------------------ */

/* Cap on peers the valid side creates, so that dumps stay quick. */
#define MODEL_PEERS 40
/* Cap on prefixes past which bulk requests only take away. */
#define MODEL_IPS 5000

static struct dev_state model;
static struct dev_state initial;	/* the model device before the run */

static void vreq_reset(void)
{
	vreq.by_index = one_in(5);
	vreq.has_priv = false;
	vreq.has_port = false;
	vreq.has_fwmark = false;
	vreq.has_flags = false;
	vreq.has_peers = false;
	vreq.n_peers = 0;
	vreq.n_ips = 0;
}

static struct vpeer *vp_add(const uint8_t *key)
{
	struct vpeer *p;

	if (vreq.n_peers == VREQ_PEERS)
		return NULL;
	vreq.has_peers = true;
	p = &vreq.peers[vreq.n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, KEY_LEN);
	p->ips = &vreq.ips[vreq.n_ips];
	return p;
}

/* The prefixes of one peer are contiguous: only the last peer may grow. */
static struct vip *vp_ip(struct vpeer *p)
{
	struct vip *v;

	if (vreq.n_ips == VREQ_IPS || p->ips + p->n_ips != &vreq.ips[vreq.n_ips])
		return NULL;
	p->has_ips = true;
	v = &vreq.ips[vreq.n_ips++];
	p->n_ips++;
	memset(v, 0, sizeof(*v));
	return v;
}

static unsigned int unpinned_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < model.n_peers; i++)
		n += !model.peers[i].pinned;
	return n;
}

static int pick_unpinned(void)
{
	unsigned int n = unpinned_count(), i, k;

	if (!n)
		return -1;
	k = below(n);
	for (i = 0; i < model.n_peers; i++)
		if (!model.peers[i].pinned && !k--)
			return i;
	return -1;
}

static unsigned int total_ips(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < model.n_peers; i++)
		n += model.peers[i].n_ips;
	return n;
}

/*
 * A prefix from a small space, so that requests keep meeting prefixes that
 * exist, belong to another peer, or contain each other.  Sometimes with host
 * bits set, which the driver must clear.  Never near the tunnel's addresses.
 */
static void small_prefix(struct prefix *ip)
{
	uint8_t host[16], keep;
	unsigned int i;

	memset(ip, 0, sizeof(*ip));
	if (one_in(3)) {
		ip->family = AF_INET6;
		ip->addr[0] = 0xfd;
		ip->addr[1] = 0x10;
		ip->addr[5] = below(4);
		ip->addr[7] = below(4);
		ip->addr[15] = below(16);
		ip->cidr = PICK(16, 32, 48, 56, 64, 96, 127, 128, 128);
	} else {
		ip->family = AF_INET;
		ip->addr[0] = 10;
		ip->addr[1] = below(4);
		ip->addr[2] = below(8);
		ip->addr[3] = below(256);
		ip->cidr = PICK(8, 16, 20, 24, 28, 30, 31, 32, 32, 32);
	}
	if (one_in(60))
		ip->cidr = 0;
	prefix_mask(ip);
	if (one_in(4)) {
		rnd_bytes(host, sizeof(host));
		for (i = 0; i < family_bytes(ip->family); i++) {
			/* The network bits of byte i stay as they are. */
			keep = i < ip->cidr / 8 ? 0xff :
			       i > ip->cidr / 8 ? 0 : 0xff00 >> (ip->cidr % 8);
			ip->addr[i] |= host[i] & ~keep;
		}
	}
}

/* Many host routes from a wider space, for the bulk requests. */
static void bulk_prefix(struct prefix *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (one_in(3)) {
		ip->family = AF_INET6;
		ip->addr[0] = 0xfd;
		ip->addr[1] = 0x10;
		ip->addr[3] = 1;
		rnd_bytes(&ip->addr[12], 4);
		ip->cidr = 128;
	} else {
		ip->family = AF_INET;
		ip->addr[0] = 10;
		ip->addr[1] = 64 + below(4);
		rnd_bytes(&ip->addr[2], 2);
		ip->cidr = one_in(8) ? 24 : 32;
		prefix_mask(ip);
	}
}

/* Whether the valid side may add @ip: never take one from a pinned peer. */
static bool may_add(const struct prefix *raw)
{
	struct prefix ip = *raw;
	int owner, at;

	prefix_mask(&ip);
	owner = ip_owner(&model, &ip, &at);
	return owner < 0 || !model.peers[owner].pinned;
}

static void random_endpoint(uint8_t *buf, uint8_t *len)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	/* Documentation prefixes: nothing there ever answers. */
	if (one_in(3)) {
		sin6.sin6_port = htons(1 + below(65535));
		inet_pton(AF_INET6, "2001:db8::", &sin6.sin6_addr);
		sin6.sin6_addr.s6_addr[15] = 1 + below(250);
		memcpy(buf, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	} else {
		sin.sin_port = htons(1 + below(65535));
		sin.sin_addr.s_addr = htonl(0xc0000200 | (1 + below(250)));
		memcpy(buf, &sin, sizeof(sin));
		*len = sizeof(sin);
	}
}

static void vp_random_attrs(struct vpeer *p, unsigned int odds)
{
	if (one_in(odds)) {
		p->has_psk = true;
		if (one_in(4))
			memset(p->psk, 0, KEY_LEN);
		else
			rnd_bytes(p->psk, KEY_LEN);
	}
	if (one_in(odds)) {
		p->has_keepalive = true;
		p->keepalive = one_in(3) ? 0 : PICK(1, 25, 300, 65535, 1 + below(65535));
	}
	if (one_in(odds))
		random_endpoint(p->endpoint, &p->endpoint_len);
}

/*
 * One of the prefixes of the peer at model index @self, or with @other, of
 * some other unpinned peer's.  False when there is none to be had.
 */
static bool some_ip_of(int self, bool other, struct prefix *ip)
{
	unsigned int tries;
	int i;

	for (tries = 0; tries < 8; tries++) {
		i = other ? pick_unpinned() : self;
		if (i < 0 || (other && i == self) || !model.peers[i].n_ips)
			continue;
		*ip = model.peers[i].ips[below(model.peers[i].n_ips)];
		return true;
	}
	return false;
}

/*
 * @n allowed-IP entries for the peer at model index @self (-1: not there
 * yet): additions of new prefixes, of other peers' (a move), of its own
 * (moves it to the end), and removals of its own, of others' (no effect) and
 * of absent ones.
 */
static void vp_random_ips(struct vpeer *p, int self, unsigned int n)
{
	struct vip *v;
	unsigned int r;

	while (n-- && (v = vp_ip(p))) {
		r = below(100);
		if (r < 15 && some_ip_of(self, true, &v->ip)) {
			v->remove = false;
		} else if (r < 25 && self >= 0 && some_ip_of(self, false, &v->ip)) {
			v->remove = false;
		} else if (r < 45 && self >= 0 && some_ip_of(self, false, &v->ip)) {
			v->remove = true;
		} else if (r < 50 && some_ip_of(self, true, &v->ip)) {
			v->remove = true;
		} else {
			small_prefix(&v->ip);
			v->remove = r >= 88;
		}
		if (!v->remove && !may_add(&v->ip))
			v->remove = true;
	}
}

static void op_new_peer(void)
{
	uint8_t key[KEY_LEN];
	struct vpeer *p;

	rnd_bytes(key, KEY_LEN);
	p = vp_add(key);
	if (!p)
		return;
	if (one_in(4)) {
		p->has_flags = true;
		p->flags = WGPEER_F_REPLACE_ALLOWEDIPS;
	}
	vp_random_attrs(p, 2);
	vp_random_ips(p, -1, below(7));
}

static void op_update_peer(int self)
{
	struct vpeer *p;

	if (self < 0) {
		op_new_peer();
		return;
	}
	p = vp_add(model.peers[self].key);
	if (!p)
		return;
	if (one_in(3)) {
		p->has_flags = true;
		p->flags = (one_in(2) ? WGPEER_F_UPDATE_ONLY : 0) |
			   (one_in(3) ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
	}
	vp_random_attrs(p, 4);
	vp_random_ips(p, self, below(9));
}

/* Removal of a peer, present or not; its other attributes are ignored. */
static void op_remove_peer(int self)
{
	uint8_t key[KEY_LEN];
	struct vpeer *p;

	if (self >= 0)
		memcpy(key, model.peers[self].key, KEY_LEN);
	else
		rnd_bytes(key, KEY_LEN);
	p = vp_add(key);
	if (!p)
		return;
	p->has_flags = true;
	p->flags = WGPEER_F_REMOVE_ME | (one_in(4) ? WGPEER_F_UPDATE_ONLY : 0) |
		   (one_in(4) ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
	if (one_in(3)) {
		vp_random_attrs(p, 2);
		vp_random_ips(p, -1, below(3));
	}
}

/* UPDATE_ONLY for a peer that does not exist: nothing happens. */
static void op_absent(void)
{
	uint8_t key[KEY_LEN];
	struct vpeer *p;

	rnd_bytes(key, KEY_LEN);
	p = vp_add(key);
	if (!p)
		return;
	p->has_flags = true;
	p->flags = WGPEER_F_UPDATE_ONLY;
	vp_random_attrs(p, 2);
	vp_random_ips(p, -1, below(4));
}

static void op_device(void)
{
	if (one_in(2)) {
		vreq.has_port = true;
		/* Above the tunnel's ports, and not 0, which picks at random. */
		vreq.port = 20000 + below(10000);
	}
	if (one_in(2)) {
		vreq.has_fwmark = true;
		vreq.fwmark = PICK(0, 1, 0xffffffff, (uint32_t)rnd());
	}
	if (one_in(4)) {
		vreq.has_priv = true;
		if (one_in(5))
			memset(vreq.priv, 0, KEY_LEN);
		else if (one_in(3) && initial.has_key)
			memcpy(vreq.priv, initial.priv, KEY_LEN);
		else
			rnd_bytes(vreq.priv, KEY_LEN);
	}
}

static void op_one_peer(void)
{
	unsigned int r = below(100);

	if (r < 30 && unpinned_count() < MODEL_PEERS)
		op_new_peer();
	else if (r < 75)
		op_update_peer(pick_unpinned());
	else if (r < 90)
		op_remove_peer(one_in(4) ? -1 : pick_unpinned());
	else
		op_absent();
}

/* Several elements in one message, sometimes naming the same peer again. */
static void op_multi(void)
{
	unsigned int n = 2 + below(4), i;
	struct vpeer *p;

	for (i = 0; i < n; i++) {
		if (i && one_in(4)) {
			p = vp_add(vreq.peers[below(vreq.n_peers)].key);
			if (!p)
				return;
			if (one_in(3)) {
				p->has_flags = true;
				p->flags = PICK(WGPEER_F_REMOVE_ME, WGPEER_F_UPDATE_ONLY,
						WGPEER_F_REPLACE_ALLOWEDIPS);
			}
			vp_random_attrs(p, 3);
			vp_random_ips(p, find_peer(&model, p->key), below(4));
		} else {
			op_one_peer();
		}
	}
}

/* A pinned peer listed in a replace must come out as it was. */
static void vp_relist_pinned(const struct peer_state *ps)
{
	struct vpeer *p = vp_add(ps->key);
	unsigned int i;
	struct vip *v;

	if (!p)
		return;
	p->has_psk = true;
	memcpy(p->psk, ps->psk, KEY_LEN);
	p->has_keepalive = true;
	p->keepalive = ps->keepalive;
	p->has_ips = true;
	for (i = 0; i < ps->n_ips && (v = vp_ip(p)); i++)
		v->ip = ps->ips[i];
}

static void shuffle_vpeers(void)
{
	struct vpeer tmp;
	unsigned int i, j;

	/* Each peer's prefixes stay where they are; only the order moves. */
	for (i = vreq.n_peers; i > 1; i--) {
		j = below(i);
		tmp = vreq.peers[i - 1];
		vreq.peers[i - 1] = vreq.peers[j];
		vreq.peers[j] = tmp;
	}
}

static void op_replace_peers(void)
{
	unsigned int i, extra = below(3);
	struct vpeer *p;

	vreq.has_flags = true;
	vreq.flags = WGDEVICE_F_REPLACE_PEERS;
	for (i = 0; i < model.n_peers; i++) {
		if (model.peers[i].pinned) {
			vp_relist_pinned(&model.peers[i]);
			continue;
		}
		if (one_in(2))
			continue;
		p = vp_add(model.peers[i].key);
		if (!p)
			break;
		if (one_in(4)) {
			p->has_flags = true;
			p->flags = PICK(WGPEER_F_UPDATE_ONLY, WGPEER_F_REPLACE_ALLOWEDIPS);
		}
		vp_random_attrs(p, 2);
		vp_random_ips(p, i, below(6));
	}
	while (extra-- && unpinned_count() < MODEL_PEERS)
		op_new_peer();
	shuffle_vpeers();
}

/* Hundreds of prefixes at once: dumps of the device then span messages. */
static void op_bulk(void)
{
	int self = pick_unpinned();
	unsigned int n = 200 + below(900), i;
	const struct peer_state *ps;
	struct vpeer *p;
	struct vip *v;

	if (self < 0) {
		op_new_peer();
		return;
	}
	ps = &model.peers[self];
	p = vp_add(ps->key);
	if (!p)
		return;
	if (total_ips() > MODEL_IPS || (ps->n_ips > 100 && one_in(2))) {
		/* Take most of them away again, one by one (a nest < 64 KiB). */
		for (i = 0; i < ps->n_ips && i < 1100; i++) {
			if (one_in(5))
				continue;
			v = vp_ip(p);
			if (!v)
				break;
			v->ip = ps->ips[i];
			v->remove = true;
		}
		return;
	}
	if (one_in(3)) {
		p->has_flags = true;
		p->flags = WGPEER_F_REPLACE_ALLOWEDIPS;
	}
	while (n-- && (v = vp_ip(p))) {
		bulk_prefix(&v->ip);
		v->remove = one_in(20);
	}
}

static void gen_valid(void)
{
	unsigned int r = below(100);

	vreq_reset();
	if (r < 50) {
		op_one_peer();
	} else if (r < 62) {
		op_device();
	} else if (r < 77) {
		op_multi();
	} else if (r < 85) {
		op_replace_peers();
	} else if (r < 91) {
		op_bulk();
	} else if (r < 97) {
		op_device();
		op_one_peer();
	}
	/* else: the device alone, which changes nothing */
}

/* Set back what a tunnel over the model device depends on. */
static void gen_restore(void)
{
	vreq_reset();
	vreq.has_priv = true;
	memcpy(vreq.priv, initial.priv, KEY_LEN);
	if (initial.port) {
		vreq.has_port = true;
		vreq.port = initial.port;
	}
}

/* --- hostile requests for the scratch device ---------------------------------- */

static struct conn fz;		/* the scratch device's namespace */
static struct conn mc;		/* the model device's namespace */

/*
 * How spoilt the message being built is: each chance of spoiling something
 * is 1 in @mischief, and 0 builds a valid skeleton.  Mixing levels lets some
 * messages go deep into the driver while others fail everywhere.
 */
static unsigned int mischief;

static bool bad(void)
{
	return mischief && one_in(mischief);
}

struct field {
	uint16_t type;
	uint16_t len;
	bool dropped;
	uint8_t data[48];
};

#define MAX_FIELDS 24

/* The scalar attributes of one level, spoilt before they are written. */
struct fields {
	struct field f[MAX_FIELDS];
	unsigned int n;
};

static void field(struct fields *fs, uint16_t type, const void *data, unsigned int len)
{
	struct field *f;

	if (fs->n == MAX_FIELDS)
		return;
	f = &fs->f[fs->n++];
	f->type = type;
	f->len = len > sizeof(f->data) ? sizeof(f->data) : len;
	f->dropped = false;
	memcpy(f->data, data, f->len);
}

static void field_uint(struct fields *fs, uint16_t type, uint64_t value, unsigned int width)
{
	uint8_t b[8];

	memcpy(b, &value, sizeof(b));
	field(fs, type, b, width);
}

static void spoil_one(struct fields *fs, struct field *f, uint16_t max_type)
{
	unsigned int len;

	switch (below(6)) {
	case 0:		/* the wrong length: short, long, zero */
		len = PICK(0, 1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 17, 20, 27, 28,
			   29, 31, 33, 48);
		if (len > f->len)
			rnd_bytes(f->data + f->len, len - f->len);
		f->len = len;
		break;
	case 1:		/* an unknown type, or flag bits in the type */
		f->type = PICK(0, max_type + 1, max_type + 2 + below(8), 0x3fff,
			       f->type | NLA_F_NESTED, f->type | NLA_F_NET_BYTEORDER);
		break;
	case 2:
		f->dropped = true;
		break;
	case 3:		/* twice: the last one wins, or should */
		if (fs->n < MAX_FIELDS) {
			fs->f[fs->n] = *f;
			if (one_in(2))
				rnd_bytes(fs->f[fs->n].data, f->len);
			fs->n++;
		}
		break;
	case 4:
		rnd_bytes(f->data, f->len);
		break;
	default:	/* boundary values */
		memset(f->data, PICK(0, 0xff, 0x80, 0x7f), f->len);
	}
}

static void spoil(struct fields *fs, uint16_t max_type)
{
	unsigned int i, j;
	struct field tmp;

	for (i = 0; i < fs->n; i++)
		if (bad())
			spoil_one(fs, &fs->f[i], max_type);
	if (bad()) {
		for (i = fs->n; i > 1; i--) {
			j = below(i);
			tmp = fs->f[i - 1];
			fs->f[i - 1] = fs->f[j];
			fs->f[j] = tmp;
		}
	}
	if (bad())
		field(fs, max_type + 1 + below(20), junk + below(4096), below(48));
}

static void emit(struct msg *m, const struct fields *fs)
{
	unsigned int i;

	for (i = 0; i < fs->n; i++)
		if (!fs->f[i].dropped)
			put(m, fs->f[i].type, fs->f[i].len, fs->f[i].data);
}

static void fuzz_identity(struct fields *fs)
{
	static const char * const names[] = {
		"lo", "wgf-none", "", "abcdefghijklmno", "abcdefghijklmnop", "wg\xff\x01",
	};
	const char *name = fz.ifname;
	size_t len = strlen(name);
	char longname[48];

	if (!mischief || !one_in(mischief * 3)) {
		if (one_in(4))
			field_uint(fs, WGDEVICE_A_IFINDEX, fz.ifindex, 4);
		else
			field(fs, WGDEVICE_A_IFNAME, name, strlen(name) + 1);
		return;
	}
	switch (below(7)) {
	case 0:		/* both */
		field_uint(fs, WGDEVICE_A_IFINDEX, fz.ifindex, 4);
		field(fs, WGDEVICE_A_IFNAME, name, strlen(name) + 1);
		break;
	case 1:		/* neither */
		break;
	case 2:
		name = names[below(ARRAY_SIZE(names))];
		field(fs, WGDEVICE_A_IFNAME, name, strlen(name) + 1);
		break;
	case 3:		/* no terminating NUL */
		field(fs, WGDEVICE_A_IFNAME, name, strlen(name));
		break;
	case 4:
		field_uint(fs, WGDEVICE_A_IFINDEX,
			   PICK(0, 1, 0xffffffff, 0x7fffffff, fz.ifindex + 1 + below(50)), 4);
		break;
	case 5:
		memset(longname, 'a', sizeof(longname));
		field(fs, WGDEVICE_A_IFNAME, longname, PICK(16, 17, 32, 48));
		break;
	default:	/* our name, then more after the NUL */
		if (len + 9 > sizeof(longname))
			break;
		memcpy(longname, name, len + 1);
		memcpy(longname + len + 1, "garbage", 8);
		field(fs, WGDEVICE_A_IFNAME, longname, len + 9);
	}
}

static void fuzz_device_fields(struct fields *fs)
{
	static const uint8_t zero[KEY_LEN];

	if (one_in(6))
		field(fs, WGDEVICE_A_PRIVATE_KEY,
		      one_in(8) ? zero : pool_priv[below(8)], KEY_LEN);
	if (one_in(25))		/* read-only: ignored on SET */
		field(fs, WGDEVICE_A_PUBLIC_KEY, junk + below(4096), KEY_LEN);
	if (one_in(5))
		field_uint(fs, WGDEVICE_A_FLAGS,
			   bad() ? PICK(2, 3, 0x80000000, (uint32_t)rnd()) :
				   PICK(0, WGDEVICE_F_REPLACE_PEERS), 4);
	if (one_in(6))
		field_uint(fs, WGDEVICE_A_LISTEN_PORT, PICK(0, 1, 65535, below(65536)), 2);
	if (one_in(6))
		field_uint(fs, WGDEVICE_A_FWMARK, PICK(0, 1, 0xffffffff, (uint32_t)rnd()), 4);
}

static void fuzz_endpoint(struct fields *fs)
{
	static const char * const v6[] = {
		"::1", "::", "ff02::1", "fe80::1", "::ffff:127.0.0.1", "2001:db8::1",
	};
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint8_t buf[48];
	unsigned int len;
	uint16_t family;

	rnd_bytes(buf, sizeof(buf));
	if (one_in(2)) {
		sin.sin_port = htons(PICK(0, 1, 51820, below(65536)));
		sin.sin_addr.s_addr = htonl(PICK(0x7f000001, 0, 0xffffffff, 0xe0000001,
						 0xc0000201, (uint32_t)rnd()));
		memcpy(buf, &sin, sizeof(sin));
		len = sizeof(sin);
	} else {
		sin6.sin6_port = htons(PICK(0, 1, 51820, below(65536)));
		inet_pton(AF_INET6, v6[below(ARRAY_SIZE(v6))], &sin6.sin6_addr);
		if (one_in(4))
			sin6.sin6_scope_id = PICK(1, 2, (uint32_t)rnd());
		if (one_in(4))
			sin6.sin6_flowinfo = rnd();
		memcpy(buf, &sin6, sizeof(sin6));
		len = sizeof(sin6);
	}
	if (bad())
		len = PICK(0, 2, 8, 15, 16, 17, 24, 27, 28, 29, 32, 48);
	if (bad()) {
		family = PICK(0, AF_UNIX, AF_PACKET, 0xffff, AF_INET, AF_INET6);
		memcpy(buf, &family, sizeof(family));
	}
	field(fs, WGPEER_A_ENDPOINT, buf, len);
}

static void fuzz_peer_fields(struct fields *fs)
{
	static const uint8_t zero[KEY_LEN];

	if (one_in(20))
		field(fs, WGPEER_A_PUBLIC_KEY, one_in(2) ? zero : junk + below(4096), KEY_LEN);
	else
		field(fs, WGPEER_A_PUBLIC_KEY, pool_pub[below(PUB_POOL)], KEY_LEN);
	if (one_in(4))
		field(fs, WGPEER_A_PRESHARED_KEY,
		      one_in(4) ? zero : pool_psk[below(8)], KEY_LEN);
	if (one_in(3))
		field_uint(fs, WGPEER_A_FLAGS,
			   bad() ? PICK(8, 0x10, 0xffffffff, (uint32_t)rnd() | 8) : below(8), 4);
	if (one_in(4))
		fuzz_endpoint(fs);
	if (one_in(5))
		field_uint(fs, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
			   PICK(0, 1, 65535, below(65536)), 2);
	if (one_in(12))
		field_uint(fs, WGPEER_A_PROTOCOL_VERSION,
			   bad() ? PICK(2, 0xffffffff) : below(2), 4);
	if (bad())		/* read-only attributes, checked for length only */
		field(fs, PICK(WGPEER_A_LAST_HANDSHAKE_TIME, WGPEER_A_RX_BYTES,
			       WGPEER_A_TX_BYTES),
		      junk + below(4096), PICK(8, 16));
}

static void fuzz_allowedip(struct msg *m)
{
	struct fields fs = { .n = 0 };
	unsigned int alen, cidr;
	struct nlattr *nest;
	uint8_t addr[32];
	struct prefix ip;
	uint16_t family;

	small_prefix(&ip);
	rnd_bytes(addr, sizeof(addr));
	if (!one_in(4))
		memcpy(addr, ip.addr, 16);
	family = ip.family;
	alen = family_bytes(family);
	cidr = ip.cidr;
	if (bad())
		family = PICK(0, AF_UNIX, AF_PACKET, 0xffff, AF_INET | 0x100,
			      family == AF_INET ? AF_INET6 : AF_INET);
	if (bad())
		alen = PICK(0, 1, 3, 5, 8, 15, 17, 32);
	if (bad())
		cidr = PICK(33, 64, 129, 200, 255);
	field_uint(&fs, WGALLOWEDIP_A_FAMILY, family, 2);
	field(&fs, WGALLOWEDIP_A_IPADDR, addr, alen);
	field_uint(&fs, WGALLOWEDIP_A_CIDR_MASK, cidr, 1);
	if (one_in(3))
		field_uint(&fs, WGALLOWEDIP_A_FLAGS,
			   bad() ? PICK(2, 3, 0xffffffff, 0x80000000) :
				   PICK(0, WGALLOWEDIP_F_REMOVE_ME, WGALLOWEDIP_F_REMOVE_ME), 4);
	spoil(&fs, WGALLOWEDIP_A_MAX);
	/* The type of a list element means nothing: any will do. */
	nest = nest_start(m, bad() ? PICK(1, 5, NLA_F_NESTED, 0x7fff) : 0);
	emit(m, &fs);
	nest_end(m, nest);
}

static void fuzz_peer(struct msg *m, unsigned int max_ips);

/* Something that is not what a list of @what should hold. */
static void wrong_element(struct msg *m, bool peer_list)
{
	struct nlattr *nest, *inner;

	switch (below(4)) {
	case 0:		/* a scalar */
		put_uint(m, 0, rnd(), PICK(0, 1, 2, 4, 8));
		break;
	case 1:		/* an empty nest */
		put(m, 0, 0, junk);
		break;
	case 2:		/* an element of the other list */
		if (peer_list)
			fuzz_allowedip(m);
		else
			fuzz_peer(m, 2);
		break;
	default:	/* one level too deep */
		nest = nest_start(m, 0);
		inner = nest_start(m, 0);
		if (peer_list)
			fuzz_peer(m, 2);
		else
			fuzz_allowedip(m);
		nest_end(m, inner);
		nest_end(m, nest);
	}
}

static void fuzz_allowedips(struct msg *m, unsigned int n)
{
	struct nlattr *nest;

	nest = nest_start(m, WGPEER_A_ALLOWEDIPS | (one_in(8) ? NLA_F_NESTED : 0));
	while (n-- && !m->full) {
		if (bad())
			wrong_element(m, false);
		else
			fuzz_allowedip(m);
	}
	nest_end(m, nest);
}

static void fuzz_peer(struct msg *m, unsigned int max_ips)
{
	struct fields fs = { .n = 0 };
	bool ips = one_in(2), ips_first = bad();
	struct nlattr *nest;

	fuzz_peer_fields(&fs);
	spoil(&fs, WGPEER_A_MAX);
	nest = nest_start(m, bad() ? PICK(1, 3, NLA_F_NESTED, 0x7fff) : 0);
	if (ips && ips_first)
		fuzz_allowedips(m, below(max_ips + 1));
	emit(m, &fs);
	if (ips && !ips_first)
		fuzz_allowedips(m, below(max_ips + 1));
	nest_end(m, nest);
}

static void fuzz_peers(struct msg *m, unsigned int n, unsigned int max_ips)
{
	struct nlattr *nest;

	if (bad()) {		/* not a nest at all */
		put(m, WGDEVICE_A_PEERS, PICK(0, 4, 32, 100), junk + below(4096));
		return;
	}
	nest = nest_start(m, WGDEVICE_A_PEERS | (one_in(8) ? NLA_F_NESTED : 0));
	while (n-- && !m->full) {
		if (bad())
			wrong_element(m, true);
		else
			fuzz_peer(m, max_ips);
	}
	nest_end(m, nest);
}

static void fuzz_set(struct msg *m)
{
	struct fields fs = { .n = 0 };
	struct nlattr *nest;

	fuzz_identity(&fs);
	fuzz_device_fields(&fs);
	spoil(&fs, WGDEVICE_A_MAX);
	emit(m, &fs);
	if (!one_in(6))
		fuzz_peers(m, PICK(0, 1, 1, 1, 2, 3, 4, 8, below(40)),
			   PICK(0, 2, 4, 8, 30));
	if (bad()) {		/* what belongs deeper, at the top */
		if (one_in(2)) {
			fs.n = 0;
			fuzz_peer_fields(&fs);
			emit(m, &fs);
		} else {
			nest = nest_start(m, WGDEVICE_A_MAX + 1 + below(4));
			fuzz_allowedip(m);
			nest_end(m, nest);
		}
	}
}

static void fuzz_get(struct msg *m)
{
	struct fields fs = { .n = 0 };

	fuzz_identity(&fs);
	if (bad())		/* SET's attributes mean nothing to GET */
		fuzz_device_fields(&fs);
	spoil(&fs, WGDEVICE_A_MAX);
	emit(m, &fs);
	if (bad())
		fuzz_peers(m, below(3), 2);
}

/* Random attributes, nested at random: what a confused client might send. */
static void soup(struct msg *m, unsigned int depth)
{
	unsigned int n = below(depth ? 6 : 10);
	struct nlattr *nest;
	uint16_t type;

	while (n-- && !m->full) {
		type = below(12) | (one_in(4) ? NLA_F_NESTED : 0);
		if (depth < 5 && one_in(3)) {
			nest = nest_start(m, type);
			soup(m, depth + 1);
			nest_end(m, nest);
		} else {
			put(m, type, PICK(0, 1, 2, 4, 8, 16, 28, 32, below(200)),
			    junk + below(4096));
		}
	}
}

static void fuzz_soup(struct msg *m)
{
	if (one_in(2))
		put(m, WGDEVICE_A_IFNAME, strlen(fz.ifname) + 1, fz.ifname);
	soup(m, 0);
}

/*
 * Large requests: many peers, many allowed IPs, nests past 64 KiB whose
 * 16-bit length wraps, single attributes of tens of kilobytes.
 */
static void fuzz_huge(struct msg *m)
{
	struct nlattr *peers, *peer, *ips;
	unsigned int kind = below(4), n, i;
	size_t limit;
	uint8_t key[KEY_LEN];

	put(m, WGDEVICE_A_IFNAME, strlen(fz.ifname) + 1, fz.ifname);
	if (kind == 3) {
		put(m, PICK(WGDEVICE_A_PRIVATE_KEY, WGDEVICE_A_IFNAME, WGDEVICE_A_PEERS,
			    WGDEVICE_A_FWMARK, 20),
		    PICK(65531, 65532, 65536, 70000, 32 + below(sizeof(junk) - 32)), junk);
		return;
	}
	/* Stop short of 64 KiB unless the point is to wrap the length. */
	limit = kind == 2 ? 150000 : 64000;
	peers = nest_start(m, WGDEVICE_A_PEERS);
	if (kind == 0) {
		n = 100 + below(500);
		for (i = 0; i < n && (uint8_t *)mnl_nlmsg_get_payload_tail(m->nlh) -
				     (uint8_t *)peers < 64000; i++) {
			peer = nest_start(m, 0);
			rnd_bytes(key, KEY_LEN);
			put(m, WGPEER_A_PUBLIC_KEY, KEY_LEN,
			    one_in(4) ? pool_pub[below(PUB_POOL)] : key);
			if (one_in(3))
				fuzz_allowedips(m, 1);
			nest_end(m, peer);
		}
	} else {
		peer = nest_start(m, 0);
		put(m, WGPEER_A_PUBLIC_KEY, KEY_LEN, pool_pub[below(PUB_POOL)]);
		if (one_in(3))
			put_uint(m, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS, 4);
		ips = nest_start(m, WGPEER_A_ALLOWEDIPS);
		n = 500 + below(4000);
		while (n-- && !m->full && (uint8_t *)mnl_nlmsg_get_payload_tail(m->nlh) -
					  (uint8_t *)peers < (ptrdiff_t)limit)
			fuzz_allowedip(m);
		nest_end(m, ips);
		nest_end(m, peer);
	}
	nest_end(m, peers);
}

/* --- byte-level mutation ------------------------------------------------------ */

#define MAX_REFS 4096
static uint32_t refs[MAX_REFS];	/* offsets of attribute headers */
static unsigned int n_refs;

/* Whether @len bytes at @p parse exactly as a run of attributes. */
static bool looks_nested(const uint8_t *p, uint32_t len)
{
	const struct nlattr *attr;
	uint32_t off = 0;

	if (len < NLA_HDRLEN)
		return false;
	while (off + NLA_HDRLEN <= len) {
		attr = (const struct nlattr *)(p + off);
		if (attr->nla_len < NLA_HDRLEN || off + attr->nla_len > len)
			return false;
		off += MNL_ALIGN(attr->nla_len);
	}
	return off >= len;
}

static void collect_attrs(const uint8_t *base, uint32_t off, uint32_t end,
			  unsigned int depth)
{
	const struct nlattr *attr;

	while (off + NLA_HDRLEN <= end && n_refs < MAX_REFS) {
		attr = (const struct nlattr *)(base + off);
		if (attr->nla_len < NLA_HDRLEN || off + attr->nla_len > end)
			return;
		refs[n_refs++] = off;
		if (depth < 6 && looks_nested(base + off + NLA_HDRLEN,
					      attr->nla_len - NLA_HDRLEN))
			collect_attrs(base, off + NLA_HDRLEN, off + attr->nla_len,
				      depth + 1);
		off += MNL_ALIGN(attr->nla_len);
	}
}

/*
 * Breaks an encoded message the way no attribute-level choice can: lengths
 * that lie, types that change, cut-off ends, trailing garbage, attributes
 * copied out of their nest.  nlmsg_len always stays true to what is sent,
 * or the kernel would drop the message without answering.
 */
static void mutate_bytes(struct msg *m)
{
	const uint32_t start = NLMSG_HDRLEN + GENL_HDRLEN;
	uint8_t *base = (uint8_t *)m->nlh;
	uint32_t len = m->nlh->nlmsg_len, off, k;
	struct nlattr *attr;

	n_refs = 0;
	collect_attrs(base, start, len, 0);
	switch (below(6)) {
	case 0:
		if (!n_refs)
			break;
		attr = (struct nlattr *)(base + refs[below(n_refs)]);
		attr->nla_len = PICK(0, 1, 3, 4, 5, attr->nla_len - 1, attr->nla_len + 1,
				     attr->nla_len + 4, attr->nla_len * 2, 0xffff,
				     below(0x10000), len - ((uint8_t *)attr - base),
				     len - ((uint8_t *)attr - base) + 1);
		break;
	case 1:
		if (!n_refs)
			break;
		attr = (struct nlattr *)(base + refs[below(n_refs)]);
		attr->nla_type = PICK(0, below(12), attr->nla_type ^ NLA_F_NESTED,
				      attr->nla_type | NLA_F_NET_BYTEORDER, 0x3fff,
				      (uint16_t)rnd());
		break;
	case 2:		/* cut anywhere, even inside a header */
		if (len > start)
			m->nlh->nlmsg_len = start + below(len - start);
		break;
	case 3:		/* trailing bytes, maybe not even a whole header */
		k = 1 + below(64);
		if (len + k + 8 < m->cap) {
			rnd_bytes(base + len, k);
			m->nlh->nlmsg_len += k;
		}
		break;
	case 4:
		for (k = 1 + below(8); k-- && len > start;) {
			off = start + below(len - start);
			base[off] = PICK(0, 0xff, 0x80, 0x7f, (uint8_t)rnd());
		}
		break;
	default:	/* an attribute copied to the top level */
		if (!n_refs)
			break;
		attr = (struct nlattr *)(base + refs[below(n_refs)]);
		k = MNL_ALIGN(attr->nla_len);
		if (len % 4 == 0 && len + k + 8 < m->cap) {
			memmove(base + len, attr, k);
			m->nlh->nlmsg_len += k;
		}
	}
}

/* Header fields the family must cope with. */
static void mutate_header(struct msg *m)
{
	struct genlmsghdr *genl = mnl_nlmsg_get_payload(m->nlh);

	switch (below(5)) {
	case 0:
		genl->cmd = PICK(2, 3, 255, (uint8_t)rnd());
		break;
	case 1:
		genl->version = PICK(0, 2, 255);
		break;
	case 2:
		genl->reserved = rnd();
		break;
	case 3:
		m->nlh->nlmsg_flags ^= PICK(NLM_F_DUMP, NLM_F_ROOT, NLM_F_ECHO,
					    NLM_F_REPLACE | NLM_F_CREATE, NLM_F_EXCL,
					    NLM_F_APPEND, NLM_F_REQUEST);
		break;
	default:	/* no such family (ids are handed out upwards from 0x10) */
		m->nlh->nlmsg_type = PICK(0xfff0, 0xffff);
	}
}

/* --- the scratch device: one step ---------------------------------------------- */

enum kind { K_SET, K_GET, K_SOUP, K_HUGE, K_WIPE };

static const char * const kind_name[] = { "set", "get", "soup", "huge", "wipe" };

/* Builds one hostile message at @at; says whether it is a SET_DEVICE. */
static bool fuzz_message(struct msg *m, uint8_t *at, size_t cap, enum kind kind)
{
	uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
	uint8_t cmd = WG_CMD_SET_DEVICE;
	unsigned int r = below(100);

	mischief = r < 25 ? 0 : r < 55 ? 40 : r < 85 ? 12 : 4;
	if (kind == K_GET || (kind == K_SOUP && one_in(3))) {
		cmd = WG_CMD_GET_DEVICE;
		flags |= one_in(10) ? 0 : NLM_F_DUMP;
	}
	if (kind == K_HUGE)
		mischief = PICK(0, 0, 50);
	msg_start(m, at, cap, &fz, cmd, flags);
	switch (kind) {
	case K_SET:
		fuzz_set(m);
		break;
	case K_GET:
		fuzz_get(m);
		break;
	case K_SOUP:
		fuzz_soup(m);
		break;
	case K_HUGE:
		fuzz_huge(m);
		break;
	case K_WIPE:	/* every peer goes: keeps the device small */
		put(m, WGDEVICE_A_IFNAME, strlen(fz.ifname) + 1, fz.ifname);
		put_uint(m, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS, 4);
		return true;
	}
	if (kind != K_HUGE && one_in(3))
		for (r = 1 + below(3); r--;)
			mutate_bytes(m);
	if (one_in(40))
		mutate_header(m);
	return cmd == WG_CMD_SET_DEVICE;
}

static enum kind pick_kind(void)
{
	unsigned int r = below(1000);

	return r < 640 ? K_SET : r < 820 ? K_GET : r < 985 ? K_SOUP : K_HUGE;
}

/*
 * Atomicity: a refused SET_DEVICE must leave the device as it was.  The
 * state before is the one after the last checked request when nothing was
 * sent in between, which saves a dump.  The listen port is left out: the
 * test script takes the device down and up meanwhile, and a device up with
 * port 0 gets a new random port each time.
 */
static struct dev_state fz_before, fz_after;
static bool fz_before_valid;

static void check_atomic(int result, unsigned long request, size_t len)
{
	char why[256];

	/* A request that went through (or ran out of memory) changed things. */
	if (!fz_before_valid || result == 0 || result == ENOMEM) {
		fz_before_valid = false;
		return;
	}
	if (dump_device(&fz, &fz_after)) {
		fail("dump of the scratch device failed after a refused request");
		fz_before_valid = false;
		return;
	}
	stats.atomic_checks++;
	if (state_diff(&fz_before, &fz_after, false, why, sizeof(why))) {
		fail("refused request %lu (%s: %s) changed the device: %s; it was:",
		     request, errno_name(result), last_extack, why);
		hexdump(req_buf, len);
	}
	state_copy(&fz_before, &fz_after);
}

static void fuzz_step(enum kind forced)
{
	unsigned int n = 1, i, sets = 0;
	int results[4];
	size_t off = 0, len = 0;
	bool atomic;
	struct msg m;

	if (forced == K_SET && one_in(25)) {
		n = 2 + below(3);
		stats.batches++;
	}
	for (i = 0; i < n; i++) {
		off = len ? NLMSG_ALIGN(len) : 0;
		memset(req_buf + len, 0, off - len);
		sets += fuzz_message(&m, req_buf + off, BUF_SIZE - off,
				     n > 1 ? pick_kind() % K_HUGE : forced);
		len = off + m.nlh->nlmsg_len;
	}
	atomic = n == 1 && sets && one_in(6);
	if (atomic && !fz_before_valid)
		fz_before_valid = dump_device(&fz, &fz_before) == 0;
	stats.fuzz += n;
	transact(&fz, req_buf, len, n, results, NULL, kind_name[forced]);
	for (i = 0; i < n; i++) {
		stats.outcome[results[i] > MAX_ERRNO ? MAX_ERRNO : results[i]]++;
		if (opt.verbose)
			printf("# %lu %s: %s %s\n", stats.requests - n + i,
			       kind_name[forced], errno_name(results[i]), last_extack);
	}
	if (forced == K_WIPE && results[0])
		fail("wiping the scratch device failed: %s", errno_name(results[0]));
	if (atomic)
		check_atomic(results[0], stats.requests - 1, len);
	else if (sets)
		fz_before_valid = false;
}

/* --- the model device: one step ------------------------------------------- */

static void check_model(const char *when)
{
	struct dev_state got = { 0 };
	char why[256];
	unsigned int i;
	int ret;

	stats.model_checks++;
	ret = dump_device(&mc, &got);
	if (ret) {
		fail("dump of the model device failed: %s", errno_name(ret));
		return;
	}
	if (!state_diff(&model, &got, true, why, sizeof(why)))
		goto out;
	fail("the model device differs from the model %s: %s (seed %llu, %lu valid requests)",
	     when, why, (unsigned long long)opt.seed, stats.valid);
	/* Go on from what the kernel has, so that one bug is reported once. */
	for (i = 0; i < got.n_peers; i++)
		got.peers[i].pinned = find_peer(&initial, got.peers[i].key) >= 0;
	state_copy(&model, &got);
out:
	state_clear(&got);
}

static void valid_step(void)
{
	struct msg m;
	int ret;

	encode_vreq(&m, &mc, &vreq);
	stats.valid++;
	transact(&mc, req_buf, m.nlh->nlmsg_len, 1, &ret, NULL, "valid");
	if (opt.verbose)
		printf("# %lu valid: %s %s\n", stats.requests - 1, errno_name(ret), last_extack);
	if (ret) {
		fail("valid request %lu refused: %s: %s; it was:", stats.requests - 1,
		     errno_name(ret), last_extack);
		hexdump(req_buf, m.nlh->nlmsg_len);
		check_model("after the refusal");
		return;
	}
	model_apply(&model, &vreq);
}

/* Something the final comparison must notice, for --tamper. */
static void tamper(void)
{
	unsigned int i;

	for (i = 0; i < model.n_peers; i++)
		if (model.peers[i].n_ips) {
			model.peers[i].n_ips--;
			printf("# tampered: dropped %s from the model\n",
			       prefix_str(&model.peers[i].ips[model.peers[i].n_ips]));
			return;
		}
	model.fwmark ^= 1;
	printf("# tampered: flipped the model's fwmark\n");
}

/* --- setup and the run ---------------------------------------------------------- */

static void family_attr(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
			*(uint16_t *)arg = mnl_attr_get_u16(attr);
}

static void resolve_family(struct conn *c)
{
	uint16_t id = 0;
	struct sink sink = { .data = family_attr, .arg = &id };
	struct msg m;
	int ret;

	msg_start(&m, own_buf, sizeof(own_buf), c, CTRL_CMD_GETFAMILY,
		  NLM_F_REQUEST | NLM_F_ACK);
	m.nlh->nlmsg_type = GENL_ID_CTRL;
	put(&m, CTRL_ATTR_FAMILY_NAME, strlen(WG_GENL_NAME) + 1, WG_GENL_NAME);
	transact(c, own_buf, m.nlh->nlmsg_len, 1, &ret, &sink, "family");
	if (ret || !id) {
		fprintf(stderr, "nlfuzz: no \"%s\" generic netlink family: %s\n",
			WG_GENL_NAME, errno_name(ret));
		exit(2);
	}
	c->family = id;
}

static void model_setup(void)
{
	unsigned int i;
	int ret;

	conn_open(&mc, opt.model_netns);
	mc.ifname = opt.model_iface;
	resolve_family(&mc);
	/* Hostile requests reach what the scratch socket can name: not this. */
	if (if_nametoindex(opt.model_iface)) {
		fprintf(stderr, "nlfuzz: %s is visible from the fuzzing namespace; "
			"give it a namespace of its own (--model-netns)\n", opt.model_iface);
		exit(2);
	}
	ret = dump_device(&mc, &initial);
	if (ret) {
		fprintf(stderr, "nlfuzz: cannot read %s: %s\n", opt.model_iface,
			errno_name(ret));
		exit(2);
	}
	for (i = 0; i < initial.n_peers; i++)
		initial.peers[i].pinned = true;
	mc.ifindex = initial.ifindex;
	state_copy(&model, &initial);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void summary(double seconds)
{
	int e;

	printf("nlfuzz: seed %llu requests %lu (fuzz %lu valid %lu checks %lu batches %lu) in %.1fs; model checks %lu, atomicity checks %lu; outcomes:",
	       (unsigned long long)opt.seed, stats.requests, stats.fuzz, stats.valid,
	       stats.checks, stats.batches, seconds, stats.model_checks,
	       stats.atomic_checks);
	for (e = 0; e <= MAX_ERRNO; e++)
		if (stats.outcome[e])
			printf(" %s %lu", e == MAX_ERRNO ? "other" : errno_name(e),
			       stats.outcome[e]);
	printf("; %s\n", stats.failures ? "FAIL" : "PASS");
}

static void usage(void)
{
	fputs("usage: nlfuzz IFACE [--seed N] [--count N] [--seconds S] [--timeout MS]\n"
	      "              [--model IFACE2 [--model-netns PATH]] [--tamper] [--hex N] [--verbose]\n",
	      stderr);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int i;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	opt.iface = argv[1];
	for (i = 2; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--tamper"))
			opt.tamper = true;
		else if (!strcmp(arg, "--verbose"))
			opt.verbose = true;
		else if (!val)
			usage();
		else if (!strcmp(arg, "--seed"))
			opt.seed = strtoull(val, NULL, 0);
		else if (!strcmp(arg, "--count"))
			opt.count = strtoul(val, NULL, 0);
		else if (!strcmp(arg, "--seconds"))
			opt.seconds = strtoul(val, NULL, 0);
		else if (!strcmp(arg, "--timeout"))
			opt.timeout_ms = strtol(val, NULL, 0);
		else if (!strcmp(arg, "--model"))
			opt.model_iface = val;
		else if (!strcmp(arg, "--model-netns"))
			opt.model_netns = val;
		else if (!strcmp(arg, "--hex"))
			opt.hex = strtol(val, NULL, 0);
		else
			usage();
		i++;
	}
}

int main(int argc, char **argv)
{
	unsigned long steps = 0, since_check = 0;
	pthread_t dog;
	double start;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&dog, NULL, watchdog, NULL))
		die("pthread_create");
	rng_state = opt.seed;
	pools_init();

	conn_open(&fz, NULL);
	fz.ifname = opt.iface;
	fz.ifindex = if_nametoindex(opt.iface);
	if (!fz.ifindex) {
		fprintf(stderr, "nlfuzz: no interface %s\n", opt.iface);
		return 2;
	}
	resolve_family(&fz);
	if (opt.model_iface)
		model_setup();
	stats.requests = 0;

	start = now();
	while (stats.requests < opt.count &&
	       (!opt.seconds || now() - start < opt.seconds)) {
		if (opt.model_iface && one_in(6)) {
			gen_valid();
			valid_step();
			if (++since_check == 40) {
				check_model("during the run");
				since_check = 0;
			}
		} else {
			fuzz_step(pick_kind());
		}
		if (++steps % 300 == 0)
			fuzz_step(K_WIPE);
	}

	if (opt.model_iface) {
		gen_restore();
		valid_step();
		if (opt.tamper)
			tamper();
		check_model("at the end");
	}
	/* The scratch device must still answer a plain dump. */
	if (dump_device(&fz, &fz_after))
		fail("the scratch device cannot be dumped at the end");
	summary(now() - start);
	return stats.failures ? 1 : 0;
}
