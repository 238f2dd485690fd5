// SPDX-License-Identifier: GPL-2.0
/*
 * Chooses the backend for an interface (a UAPI socket wins over the
 * kernel, as with upstream), lists interfaces of both kinds, and probes
 * whether single allowed IPs can be removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "curve25519.h"
#include "ipc.h"

char ipc_error_detail[256];

/*
 * A name of IFNAMSIZ bytes or more cannot name an interface, and the
 * backends copy the name into requests of fixed size: refuse it here, as
 * the kernel would (EINVAL), before either backend sees it.
 */
static bool ifname_fits(const char *name)
{
	return strnlen(name, IFNAMSIZ) < IFNAMSIZ;
}

int ipc_get_device(struct wg_device *dev, const char *name)
{
	ipc_error_detail[0] = '\0';
	if (!ifname_fits(name))
		return -EINVAL;
	if (uapi_has_device(name))
		return uapi_get_device(dev, name);
	return kernel_get_device(dev, name);
}

int ipc_set_device(const struct wg_device *dev)
{
	ipc_error_detail[0] = '\0';
	if (uapi_has_device(dev->name))
		return uapi_set_device(dev);
	return kernel_set_device(dev);
}

char *ipc_list_devices(void)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int ret;

	ret = kernel_list_devices(&buf, &len, &cap);
	if (!ret)
		ret = uapi_list_devices(&buf, &len, &cap);
	if (ret) {
		free(buf);
		errno = -ret;
		return NULL;
	}
	buf = xrealloc(buf, len + 1, 1);
	buf[len] = '\0';
	return buf;
}

/*
 * Probe: add a throw-away peer (random public key, never used for
 * traffic: it has no endpoint) with one allowed IP, a /128 in the
 * discard-only prefix 100::/64 that nothing else routes, and in the same
 * request remove that IP again.  Read the device back: if the peer still
 * owns the IP, removal was ignored (a kernel before Linux 6.16 silently
 * skips the unknown flag attribute).  Finally the peer is removed.
 * Nothing else on the device is touched.
 */
int ipc_removal_supported(const char *name)
{
	struct wg_device probe = { 0 }, state = { 0 };
	struct wg_allowedip *ip;
	struct wg_peer *peer;
	uint8_t key[WG_KEY_SIZE];
	int ret, set_ret, supported = 0;

	if (!ifname_fits(name))
		return -EINVAL;
	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		return -errno;
	x25519_clamp(key);
	if (!x25519_public(key, key))	/* a real point, like any peer key */
		return -ENOMEM;

	/* The kernel can be asked in one request, whatever the device's size. */
	if (!uapi_has_device(name))
		return kernel_removal_supported(name, key);

	snprintf(probe.name, sizeof(probe.name), "%s", name);
	peer = device_add_peer(&probe);
	memcpy(peer->public_key, key, WG_KEY_SIZE);
	peer->flags = PEER_HAS_PUBLIC_KEY;
	ip = peer_add_ip(peer);
	ip->family = AF_INET6;
	ip->cidr = 128;
	ip->ip6.s6_addr[0] = 0x01;	/* 100::/64, RFC 6666 */
	if (getrandom(&ip->ip6.s6_addr[8], 8, 0) != 8) {
		device_free(&probe);
		return -errno;
	}
	ip = peer_add_ip(peer);
	*ip = peer->ips[0];
	ip->remove = 1;

	set_ret = ipc_set_device(&probe);
	if (!set_ret) {
		ret = ipc_get_device(&state, name);
		if (ret) {
			supported = ret;
		} else {
			struct wg_peer *p = device_find_peer(&state, key);

			supported = p && p->n_ips == 0;
		}
		device_free(&state);
	} else if (set_ret != -EINVAL && set_ret != -EPROTO && set_ret != -ENOPROTOOPT && set_ret != -EOPNOTSUPP) {
		supported = set_ret;	/* the device itself is unreachable */
	}
	/* Always clean up: also after a daemon rejected the request half way. */
	peer->flags = PEER_HAS_PUBLIC_KEY | PEER_REMOVE;
	peer->n_ips = 0;
	ret = ipc_set_device(&probe);
	device_free(&probe);
	if (ret && supported >= 0 && set_ret == 0)
		return ret;
	ipc_error_detail[0] = '\0';
	return supported;
}
