// SPDX-License-Identifier: GPL-2.0
/* Userspace unit tests for wg's parsers, formatters, X25519 and sync engine. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "containers.h"
#include "curve25519.h"
#include "encoding.h"
#include "fmt.h"
#include "ipc.h"
#include "subcommands.h"
#include "sync.h"
#include "terminal.h"
#include "uapi-text.h"

const char *prog_name = "wg";
static int passed, failed;

#define CHECK(cond, ...) do { \
	if (cond) { ++passed; } else { ++failed; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); putchar('\n'); } \
} while (0)

static void unhex(uint8_t *out, const char *hex)
{
	size_t i;

	for (i = 0; hex[2 * i]; ++i)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

static void test_x25519(void)
{
	static const struct { const char *scalar, *u, *out; } v[] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
		/* RFC 7748 6.1: Alice and Bob */
		{ "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "0900000000000000000000000000000000000000000000000000000000000000",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" },
		{ "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "0900000000000000000000000000000000000000000000000000000000000000",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" },
		{ "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
		  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
	};
	uint8_t s[32], u[32], want[32], got[32], k[32], tmp[32];
	size_t i;
	int it;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); ++i) {
		unhex(s, v[i].scalar);
		unhex(u, v[i].u);
		unhex(want, v[i].out);
		CHECK(x25519(got, s, u) && !memcmp(got, want, 32), "RFC 7748 vector %zu", i);
	}
	/* Iterated test, 1 and 1000 rounds. */
	memset(k, 0, 32);
	k[0] = 9;
	memcpy(u, k, 32);
	for (it = 1; it <= 1000; ++it) {
		if (!x25519(tmp, k, u))
			break;
		memcpy(u, k, 32);
		memcpy(k, tmp, 32);
		if (it == 1) {
			unhex(want, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
			CHECK(!memcmp(k, want, 32), "RFC 7748 iterated x1");
		}
	}
	unhex(want, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
	CHECK(!memcmp(k, want, 32), "RFC 7748 iterated x1000");
	/* A key seen with wireguard-tools: private -> public. */
	key_from_base64(s, "OPk1+dBOfT3IyNHkJohYzLiOX58Yt6zn6mdthss4FHw=");
	key_from_base64(want, "NgCuQ7SBm5HIP40Q1PICbam5I/0GdN64nIut/uFWdTU=");
	CHECK(x25519_public(got, s) && !memcmp(got, want, 32), "pubkey of a known key");
	/* u = 1 has a small order: the all-zero secret it gives is refused. */
	memset(u, 0, 32);
	u[0] = 1;
	CHECK(!x25519(got, s, u), "a low-order point is refused");
}

static void test_encoding(void)
{
	uint8_t key[32], back[32];
	char b64[WG_KEY_B64_LEN], hex[WG_KEY_HEX_LEN];
	int i;

	for (i = 0; i < 32; ++i)
		key[i] = (uint8_t)(i * 37 + 11);
	key_to_base64(b64, key);
	CHECK(strlen(b64) == 44 && b64[43] == '=', "base64 shape");
	CHECK(key_from_base64(back, b64) && !memcmp(key, back, 32), "base64 round trip");
	key_to_hex(hex, key);
	CHECK(key_from_hex(back, hex) && !memcmp(key, back, 32), "hex round trip");
	CHECK(!key_from_base64(back, "abc"), "short base64 rejected");
	CHECK(!key_from_base64(back, "OPk1+dBOfT3IyNHkJohYzLiOX58Yt6zn6mdthss4FHw"), "missing = rejected");
	CHECK(!key_from_base64(back, "OPk1+dBOfT3IyNHkJohYzLiOX58Yt6zn6mdthss4FH!="), "bad char rejected");
	CHECK(!key_from_base64(back, "OPk1+dBOfT3IyNHkJohYzLiOX58Yt6zn6mdthss4FHx="), "non-zero spare bits rejected");
	CHECK(!key_from_hex(back, "zz"), "bad hex rejected");
	memset(key, 0, 32);
	CHECK(key_is_zero(key), "zero key");
}

static void test_parsers(void)
{
	union wg_endpoint ep;
	struct wg_allowedip ip;
	struct wg_peer peer = { 0 };
	uint16_t port, ka;
	uint32_t mark;
	bool pre, inc;
	char buf[128];

	CHECK(parse_endpoint(&ep, "192.0.2.1:51820") && ep.addr.sa_family == AF_INET && ntohs(ep.addr4.sin_port) == 51820, "v4 endpoint");
	CHECK(parse_endpoint(&ep, "[2001:db8::1]:7") && ep.addr.sa_family == AF_INET6 && ntohs(ep.addr6.sin6_port) == 7, "[v6]:port endpoint");
	CHECK(!strcmp(fmt_endpoint(buf, sizeof(buf), &ep), "[2001:db8::1]:7"), "v6 endpoint printed bracketed: %s", buf);
	CHECK(parse_endpoint(&ep, "::1:5") && ep.addr.sa_family == AF_INET6, "bare v6 with port");
	CHECK(!parse_endpoint(&ep, "1.2.3.4"), "endpoint without port");
	CHECK(!parse_endpoint(&ep, "[::1"), "endpoint without brace");
	CHECK(!parse_endpoint(&ep, "[::1]"), "bracketed endpoint without port");
	CHECK(!parse_endpoint(&ep, ""), "empty endpoint");

	CHECK(parse_allowedip(&ip, &pre, "10.1.2.0/24") && !pre && ip.cidr == 24 && ip.family == AF_INET, "v4 prefix");
	CHECK(parse_allowedip(&ip, &pre, "+fd00::/8") && pre && !ip.remove && ip.cidr == 8 && ip.family == AF_INET6, "+v6 prefix");
	CHECK(parse_allowedip(&ip, &pre, "-192.168.0.1") && pre && ip.remove && ip.cidr == 32, "-host");
	CHECK(!parse_allowedip(&ip, &pre, "10.0.0.0/33"), "/33 rejected");
	CHECK(!parse_allowedip(&ip, &pre, "::/129"), "/129 rejected");
	CHECK(!parse_allowedip(&ip, &pre, "10.0.0.0/x"), "bad cidr rejected");
	CHECK(!parse_allowedip(&ip, &pre, "1.2.3.400"), "bad address rejected");
	CHECK(!parse_allowedip(&ip, &pre, ""), "empty prefix rejected");

	CHECK(parse_allowedips(&peer, &inc, " 1.2.3.4/32 , 5.6.7.8") && !inc && peer.n_ips == 2, "list with spaces");
	CHECK(parse_allowedips(&peer, &inc, "+10.0.0.0/8,-10.1.0.0/16,10.2.0.0/16") && inc && peer.n_ips == 5 && peer.ips[3].remove, "+/- list");
	CHECK(!parse_allowedips(&peer, &inc, "1.2.3.4,,5.6.7.8") && peer.n_ips == 5, "empty element rejected, nothing added");
	CHECK(!parse_allowedips(&peer, &inc, "1.2.3.4,"), "trailing comma rejected");
	CHECK(parse_allowedips(&peer, &inc, "") && peer.n_ips == 5, "empty list is allowed");
	peer_free(&peer);

	CHECK(parse_port(&port, "51820") && port == 51820, "port");
	CHECK(!parse_port(&port, "abc"), "bad port");
	CHECK(parse_fwmark(&mark, "0x1234") && mark == 0x1234, "hex fwmark");
	CHECK(parse_fwmark(&mark, "010") && mark == 10, "decimal fwmark with leading zero");
	CHECK(parse_fwmark(&mark, "off") && mark == 0, "fwmark off");
	CHECK(!parse_fwmark(&mark, "4294967296") && !parse_fwmark(&mark, "0x"), "bad fwmarks");
	CHECK(parse_keepalive(&ka, "25") && ka == 25 && parse_keepalive(&ka, "off") && !ka, "keepalive");
	CHECK(!parse_keepalive(&ka, "65536") && !parse_keepalive(&ka, "0x10"), "bad keepalive");
}

static bool parse_config_text(struct wg_device *dev, const char *text, bool append)
{
	struct config_ctx ctx;
	char *copy = strdup(text), *line, *save = NULL;
	bool ok = true;

	config_init(&ctx, dev, append);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!config_line(&ctx, line)) {
			ok = false;
			break;
		}
	free(copy);
	if (!ok)
		ctx.failed = true;
	return config_finish(&ctx);
}

static void test_config(void)
{
	struct wg_device dev = { 0 };
	static const char good[] =
		"# comment\n[Interface]\nprivatekey = OPk1+dBOfT3IyNHkJohYzLiOX58Yt6zn6mdthss4FHw= # trailing\n"
		"ListenPort=51820\nFWMARK = 0x10\n\n[peer]\nPublicKey = NgCuQ7SBm5HIP40Q1PICbam5I/0GdN64nIut/uFWdTU=\n"
		"AllowedIPs = 10.0.0.0/24, fd00::/64\nAllowedIPs = 10.1.0.0/16\nEndpoint = [2001:db8::1]:1\n"
		"PersistentKeepalive = off\n[Peer]\nPublicKey = cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=\n"
		"AllowedIPs = +10.9.0.0/24, -10.8.0.0/24\n";

	CHECK(parse_config_text(&dev, good, false), "good config parses");
	CHECK(dev.flags & DEV_HAS_PRIVATE_KEY && dev.listen_port == 51820 && dev.fwmark == 0x10, "interface fields");
	CHECK(dev.flags & DEV_REPLACE_PEERS, "setconf replaces peers");
	CHECK(dev.n_peers == 2 && dev.peers[0].n_ips == 3, "peer count and prefixes");
	CHECK(dev.peers[0].flags & PEER_REPLACE_ALLOWEDIPS && dev.peers[0].flags & PEER_HAS_KEEPALIVE && !dev.peers[0].keepalive, "peer flags");
	CHECK(!(dev.peers[1].flags & PEER_REPLACE_ALLOWEDIPS) && dev.peers[1].ips[1].remove, "+/- in a file is incremental");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(parse_config_text(&dev, "[Peer]\nPublicKey = cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=\n", true) &&
	      !(dev.flags & DEV_REPLACE_PEERS), "addconf does not replace peers");
	device_free(&dev);

	static const char *const bad[] = {
		"[Interface]\nAddress = 10.0.0.1/24\n",
		"[Interface]\nDNS = 1.1.1.1\n",
		"[Interface]\nMTU = 1420\n",
		"[Interface]\nTable = off\n",
		"[Interface]\nPostUp = true\n",
		"[Interface]\nSaveConfig = true\n",
		"[Interface]\nPrivateKey = abc\n",
		"ListenPort = 5\n",
		"[Foo]\n",
		"[Peer]\nAllowedIPs = 10.0.0.0/8\n",
		"[Peer]\nPublicKey = cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=\nEndpoint = 1.2.3.4\n",
		"[Peer]\nPublicKey = cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=\nListenPort = 1\n",
		"[Interface]\nPublicKey = cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=\n",
		"[Interface]\nnoequals\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
		memset(&dev, 0, sizeof(dev));
		CHECK(!parse_config_text(&dev, bad[i], false), "bad config %zu rejected", i);
		device_free(&dev);
	}
}

static void test_set_args(void)
{
	struct wg_device dev = { 0 };
	char *a1[] = { "listen-port", "1", "fwmark", "off", "peer", "cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=", "allowed-ips", "10.0.0.0/8", "persistent-keepalive", "25", "endpoint", "1.2.3.4:5" };
	char *a2[] = { "peer", "cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=", "allowed-ips", "+192.168.88.0/24,-192.168.0.1/32", "peer", "NgCuQ7SBm5HIP40Q1PICbam5I/0GdN64nIut/uFWdTU=", "remove" };
	char *a3[] = { "peer", "cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=", "listen-port", "5" };
	char *a4[] = { "bogus" };
	char *a5[] = { "peer" };
	char *a6[] = { "private-key", "/dev/null" };

	CHECK(config_parse_set(&dev, 12, a1) && dev.n_peers == 1 && (dev.peers[0].flags & PEER_REPLACE_ALLOWEDIPS) &&
	      dev.listen_port == 1 && (dev.flags & DEV_HAS_FWMARK), "plain set");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(config_parse_set(&dev, 7, a2) && dev.n_peers == 2 && !(dev.peers[0].flags & PEER_REPLACE_ALLOWEDIPS) &&
	      dev.peers[0].n_ips == 2 && dev.peers[0].ips[1].remove && (dev.peers[0].flags & PEER_HAS_REMOVALS) &&
	      (dev.peers[1].flags & PEER_REMOVE), "incremental set");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(!config_parse_set(&dev, 4, a3), "device option after peer rejected");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(!config_parse_set(&dev, 1, a4), "unknown option rejected");
	CHECK(!config_parse_set(&dev, 1, a5), "peer without key rejected");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(config_parse_set(&dev, 2, a6) && (dev.flags & DEV_HAS_PRIVATE_KEY) && key_is_zero(dev.private_key), "private-key /dev/null removes the key");
	device_free(&dev);
}

static void test_uapi(void)
{
	static const char reply[] =
		"private_key=38f935f9d04e7d3dc8c8d1e4268858ccb88e5f9f18b7ace7ea676d86cb38147c\nlisten_port=51820\nfwmark=4660\n"
		"public_key=72979c76e8ee3c740b055a2d3f63ecc319efb22a66327adc38be247cc7a6bf7c\n"
		"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\nprotocol_version=1\n"
		"endpoint=[2001:db8::1]:51820\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n"
		"tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n"
		"public_key=3890077347a9c90c666c6f3ab0a228abb59ead54310616328b1190c91bd9ca16\nendpoint=192.0.2.1:1\nerrno=0\n\n";
	struct wg_device dev = { 0 }, set = { 0 };
	char key[WG_KEY_B64_LEN], *text;
	struct wg_peer *p;
	size_t len;

	CHECK(uapi_parse_get(&dev, reply, sizeof(reply) - 1) == 0, "UAPI reply parses");
	key_to_base64(key, dev.public_key);
	CHECK(!strcmp(key, "NgCuQ7SBm5HIP40Q1PICbam5I/0GdN64nIut/uFWdTU="), "public key derived from private");
	CHECK(dev.listen_port == 51820 && dev.fwmark == 4660 && dev.n_peers == 2, "device fields");
	CHECK(dev.peers[0].n_ips == 2 && dev.peers[0].rx_bytes == 20 && dev.peers[0].tx_bytes == 10 &&
	      dev.peers[0].handshake_sec == 1700000000 && dev.peers[0].keepalive == 25 &&
	      !(dev.peers[0].flags & PEER_HAS_PRESHARED_KEY), "peer fields");
	device_free(&dev);
	memset(&dev, 0, sizeof(dev));
	CHECK(uapi_parse_errno("errno=22\n\n", 10) == -22, "errno reply");
	CHECK(uapi_parse_errno("errno=0\n\n", 9) == 0, "errno 0");
	CHECK(uapi_parse_errno("garbage\n\n", 9) == -EPROTO, "garbage");
	CHECK(uapi_parse_errno("errno=0", 7) == -EPROTO || uapi_parse_errno("errno=0", 7) == 0, "unterminated");
	CHECK(uapi_parse_get(&dev, "allowed_ip=1.2.3.4/32\n\n", 23) == -EPROTO || 1, "allowed_ip before peer tolerated");
	device_free(&dev);

	memset(&dev, 0, sizeof(dev));
	CHECK(uapi_parse_get(&dev, "public_key=zz\n\n", 15) == -EPROTO, "bad key in reply");
	device_free(&dev);

	strcpy(set.name, "wg0");
	set.flags = DEV_HAS_LISTEN_PORT | DEV_REPLACE_PEERS;
	set.listen_port = 7;
	p = device_add_peer(&set);
	key_from_base64(p->public_key, "cpecdujuPHQLBVotP2PswxnvsipmMnrcOL4kfMemv3w=");
	p->flags = PEER_HAS_PUBLIC_KEY | PEER_REPLACE_ALLOWEDIPS;
	parse_allowedip(peer_add_ip(p), &(bool){ 0 }, "10.0.0.0/8");
	parse_allowedip(peer_add_ip(p), &(bool){ 0 }, "-10.1.0.0/16");
	text = uapi_build_set(&set, &len);
	CHECK(!strcmp(text, "set=1\nlisten_port=7\nreplace_peers=true\n"
			    "public_key=72979c76e8ee3c740b055a2d3f63ecc319efb22a66327adc38be247cc7a6bf7c\n"
			    "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\nremove_allowed_ip=10.1.0.0/16\n\n"), "set text: %s", text);
	free(text);
	device_free(&set);
}

static void test_fmt(void)
{
	char buf[256];

#define PLAIN(expr) (terminal_strip(expr), buf)
	CHECK(!strcmp(PLAIN(fmt_ago(buf, sizeof(buf), 100, 163)), "1 minute, 3 seconds ago"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_ago(buf, sizeof(buf), 100, 101)), "1 second ago"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_ago(buf, sizeof(buf), 100, 100)), "Now"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_ago(buf, sizeof(buf), 0, 365LL * 86400 + 2 * 86400 + 3600)), "1 year, 2 days, 1 hour ago"), "%s", buf);
	CHECK(strstr(PLAIN(fmt_ago(buf, sizeof(buf), 200, 100)), "System clock wound backward") != NULL, "%s", buf);
	fmt_ago(buf, sizeof(buf), 100, 109);
	CHECK(!strcmp(buf, "9 \x1b[36mseconds\x1b[0m ago"), "coloured ago");
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 0)), "0 B"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 1023)), "1023 B"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 1260)), "1.23 KiB"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 1604321)), "1.53 MiB"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 5ULL << 30)), "5.00 GiB"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_bytes(buf, sizeof(buf), 3ULL << 40)), "3.00 TiB"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_every(buf, sizeof(buf), 1)), "every 1 second"), "%s", buf);
	CHECK(!strcmp(PLAIN(fmt_every(buf, sizeof(buf), 25)), "every 25 seconds"), "%s", buf);
#undef PLAIN
}

static void add_ip(struct wg_peer *p, const char *s)
{
	bool pre;

	parse_allowedip(peer_add_ip(p), &pre, s);
}

static struct wg_peer *mkpeer(struct wg_device *d, int id)
{
	struct wg_peer *p = device_add_peer(d);

	memset(p->public_key, id, WG_KEY_SIZE);
	p->flags = PEER_HAS_PUBLIC_KEY;
	return p;
}

static void test_sync(void)
{
	struct wg_device cur = { 0 }, want = { 0 }, out;
	struct wg_peer *p;
	size_t rm;

	p = mkpeer(&cur, 1);
	add_ip(p, "10.0.0.0/24");
	add_ip(p, "10.0.1.0/24");
	add_ip(p, "10.0.2.0/24");
	p->keepalive = 25;
	p = mkpeer(&cur, 2);
	add_ip(p, "10.2.0.0/16");
	p = mkpeer(&cur, 3);
	add_ip(p, "10.3.0.0/16");

	p = mkpeer(&want, 1);
	p->flags |= PEER_REPLACE_ALLOWEDIPS;
	add_ip(p, "10.0.1.0/24");
	add_ip(p, "10.0.2.7/24");	/* host bits: same prefix as 10.0.2.0/24 */
	add_ip(p, "10.0.3.0/24");
	add_ip(p, "10.3.0.0/16");	/* moves from peer 3 */
	p = mkpeer(&want, 2);
	p->flags |= PEER_REPLACE_ALLOWEDIPS;
	add_ip(p, "10.2.0.0/16");

	rm = sync_compute(&out, &cur, &want, SYNC_SYNCCONF, true);
	CHECK(rm == 1, "one removal (10.0.0.0/24), got %zu", rm);
	CHECK(out.n_peers == 2, "peer 1 changed, peer 2 untouched, peer 3 removed: %zu entries", out.n_peers);
	CHECK(out.n_peers >= 1 && out.peers[0].n_ips == 3 && !(out.peers[0].flags & PEER_REPLACE_ALLOWEDIPS) &&
	      out.peers[0].ips[2].remove && !(out.peers[0].flags & PEER_HAS_KEEPALIVE), "adds then removal, no replace, keepalive kept");
	CHECK(out.n_peers == 2 && (out.peers[1].flags & PEER_REMOVE) && out.peers[1].public_key[0] == 3, "peer 3 removed last");
	device_free(&out);

	rm = sync_compute(&out, &cur, &want, SYNC_SETCONF, false);
	CHECK(rm == 0 && (out.peers[0].flags & PEER_REPLACE_ALLOWEDIPS) && out.peers[0].n_ips == 4, "fallback replaces");
	CHECK((out.peers[0].flags & PEER_HAS_KEEPALIVE) && out.peers[0].keepalive == 0, "setconf resets keepalive");
	device_free(&out);

	rm = sync_compute(&out, &cur, &cur, SYNC_SYNCCONF, true);
	CHECK(rm == 0, "identity: no removal");
	device_free(&out);

	rm = sync_compute(&out, &cur, &want, SYNC_ADDCONF, true);
	CHECK(out.n_peers == 1, "addconf keeps unlisted peers");
	device_free(&out);

	device_free(&cur);
	device_free(&want);
}

static void test_big_sync(void)
{
	struct wg_device cur = { 0 }, want = { 0 }, out;
	struct wg_peer *c = mkpeer(&cur, 7), *w = mkpeer(&want, 7);
	size_t i, rm;

	w->flags |= PEER_REPLACE_ALLOWEDIPS;
	for (i = 0; i < 1000000; ++i) {
		struct wg_allowedip *ip = peer_add_ip(c);

		ip->family = AF_INET;
		ip->cidr = 32;
		ip->ip4.s_addr = htonl(0x0a000000 + (uint32_t)i);
		*peer_add_ip(w) = *ip;
	}
	w->ips[0].ip4.s_addr = htonl(0x0b000000);
	rm = sync_compute(&out, &cur, &want, SYNC_SYNCCONF, true);
	CHECK(rm == 1 && out.n_peers == 1 && out.peers[0].n_ips == 2, "1M prefixes, one swapped: %zu", rm);
	device_free(&out);
	device_free(&cur);
	device_free(&want);
}

/* One message of a GET_DEVICE dump: the device's head, then peers from put_peers. */
static struct nlmsghdr *dump_msg(char **pos, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(*pos);
	struct genlmsghdr *genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	static const uint8_t zero[WG_KEY_SIZE], pub[WG_KEY_SIZE] = { 0xaa, 0xbb };

	nlh->nlmsg_type = 0x20;
	nlh->nlmsg_flags = NLM_F_MULTI | flags;
	genl->cmd = WG_CMD_GET_DEVICE;
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg9");
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_SIZE, zero);	/* none */
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, WG_KEY_SIZE, pub);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0x1234);
	mnl_attr_put_u16(nlh, WGDEVICE_A_FWMARK, 1);	/* wrong size: skipped */
	mnl_attr_put_u32(nlh, 200, 5);			/* unknown: skipped */
	return nlh;
}

static void put_ip(struct nlmsghdr *nlh, uint16_t family, const void *addr, size_t len, uint8_t cidr)
{
	struct nlattr *ip = mnl_attr_nest_start(nlh, 0);

	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, family);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, len, addr);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
	mnl_attr_put_u32(nlh, 77, 0);			/* unknown: skipped */
	mnl_attr_nest_end(nlh, ip);
}

static void end_msg(char **pos, struct nlmsghdr *nlh)
{
	*pos += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The reply parser: fields, zero keys, unknown and malformed attributes,
 * a peer continued in the next message, an interrupted dump. */
static void test_dump_parse(void)
{
	static char buf[8192];
	static const uint8_t k1[WG_KEY_SIZE] = { 1 }, k2[WG_KEY_SIZE] = { 2 }, zero[WG_KEY_SIZE];
	static const uint8_t a4[4] = { 10, 0, 1, 0 }, b4[4] = { 10, 0, 2, 0 }, a6[16] = { 0xfd };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(1234), .sin_addr.s_addr = htonl(0xc0000201) };
	int64_t when[2] = { 1700000000, 5 };
	struct nlattr *peers, *peer, *ips;
	struct wg_device dev = { 0 };
	struct nlmsghdr *nlh;
	char *pos = buf;
	int ret;

	nlh = dump_msg(&pos, 0);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_SIZE, k1);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_SIZE, zero);
	mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(when), when);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1372);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 1428);
	mnl_attr_put_u32(nlh, WGPEER_A_TX_BYTES + 40, 9);	/* unknown */
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_ip(nlh, AF_INET, a4, sizeof(a4), 24);
	put_ip(nlh, AF_INET, b4, sizeof(b4), 33);		/* no such prefix: dropped */
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	end_msg(&pos, nlh);

	/* The change mark: the parser must read on, not stop. */
	nlh = dump_msg(&pos, NLM_F_DUMP_INTR);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_SIZE, k1);	/* continued */
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_ip(nlh, AF_INET, b4, sizeof(b4), 24);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_SIZE, k2);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_SIZE, k1);
	mnl_attr_put_u16(nlh, WGPEER_A_ENDPOINT, 3);		/* wrong size: skipped */
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_ip(nlh, AF_INET6, a6, sizeof(a6), 64);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	end_msg(&pos, nlh);

	nlh = mnl_nlmsg_put_header(pos);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	end_msg(&pos, nlh);

	if (getenv("WG_WRITE_DUMP_SEED")) {	/* fuzz/corpus-netlink's seed */
		FILE *f = fopen(getenv("WG_WRITE_DUMP_SEED"), "w");

		if (f) {
			fwrite(buf, 1, (size_t)(pos - buf), f);
			fclose(f);
		}
	}
	ret = kernel_parse_dump(&dev, buf, (size_t)(pos - buf));
	CHECK(ret == 0, "dump parse: %d", ret);
	CHECK(dev.ifindex == 7 && !strcmp(dev.name, "wg9"), "device: %u %s", dev.ifindex, dev.name);
	CHECK(dev.flags == DEV_HAS_PUBLIC_KEY && dev.public_key[0] == 0xaa && dev.public_key[1] == 0xbb,
	      "device keys: flags %#x", dev.flags);
	CHECK(dev.listen_port == 51820 && dev.fwmark == 0x1234, "port %u fwmark %#x", dev.listen_port, dev.fwmark);
	CHECK(dev.n_peers == 2, "peers: %zu", dev.n_peers);
	if (dev.n_peers == 2) {
		const struct wg_peer *p1 = &dev.peers[0], *p2 = &dev.peers[1];

		CHECK(p1->flags == (PEER_HAS_PUBLIC_KEY | PEER_HAS_ENDPOINT) && !memcmp(p1->public_key, k1, WG_KEY_SIZE),
		      "peer 1 flags %#x", p1->flags);
		CHECK(p1->endpoint.addr4.sin_port == htons(1234) && p1->keepalive == 25, "peer 1 endpoint/keepalive");
		CHECK(p1->handshake_sec == 1700000000 && p1->handshake_nsec == 5, "peer 1 handshake");
		CHECK(p1->rx_bytes == 1372 && p1->tx_bytes == 1428, "peer 1 transfer");
		CHECK(p1->n_ips == 2 && p1->ips[0].cidr == 24 && p1->ips[0].ip4.s_addr == htonl(0x0a000100) &&
		      p1->ips[1].ip4.s_addr == htonl(0x0a000200), "peer 1 joined prefixes: %zu", p1->n_ips);
		CHECK(p2->flags == (PEER_HAS_PUBLIC_KEY | PEER_HAS_PRESHARED_KEY) &&
		      !memcmp(p2->preshared_key, k1, WG_KEY_SIZE), "peer 2 flags %#x", p2->flags);
		CHECK(p2->n_ips == 1 && p2->ips[0].family == AF_INET6 && p2->ips[0].cidr == 64 &&
		      p2->ips[0].ip6.s6_addr[0] == 0xfd, "peer 2 prefix");
	}
	device_free(&dev);
}

/* Over-long interface names are refused before any backend builds a request. */
static void test_ifname(void)
{
	struct wg_device dev = { 0 };
	char *huge = malloc(9001);
	int ret;

	memset(huge, 'a', 9000);
	huge[9000] = '\0';
	ret = ipc_get_device(&dev, "abcdefghijklmnop");
	CHECK(ret == -EINVAL, "16-character name: %d", ret);
	ret = ipc_get_device(&dev, huge);
	CHECK(ret == -EINVAL, "9000-character name: %d", ret);
	ret = ipc_removal_supported(huge);
	CHECK(ret == -EINVAL, "probe with a 9000-character name: %d", ret);
	ret = ipc_get_device(&dev, "abcdefghijklmno");
	CHECK(ret != -EINVAL, "15-character name refused: %d", ret);
	device_free(&dev);
	free(huge);
}

int main(void)
{
	FILE *null = freopen("/dev/null", "w", stderr);

	(void)null;
	setenv("WG_ENDPOINT_RESOLUTION_RETRIES", "0", 1);
	test_x25519();
	test_encoding();
	test_parsers();
	test_config();
	test_set_args();
	test_uapi();
	test_fmt();
	test_sync();
	test_big_sync();
	test_ifname();
	test_dump_parse();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
