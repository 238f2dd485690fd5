// SPDX-License-Identifier: GPL-2.0
/* Human-readable durations, byte counts, endpoints and prefixes. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include "fmt.h"
#include "terminal.h"

static size_t append(char *buf, size_t n, size_t used, const char *fmt, uint64_t v, const char *unit)
{
	int w;

	if (used >= n)
		return used;
	w = snprintf(buf + used, n - used, fmt, used ? ", " : "", (unsigned long long)v, unit, v == 1 ? "" : "s");
	return w < 0 ? used : used + (size_t)w;
}

char *fmt_ago(char *buf, size_t n, int64_t then, int64_t now)
{
	static const struct {
		uint64_t secs;
		const char *name;
	} units[] = {
		{ 365ULL * 24 * 3600, "year" },
		{ 24 * 3600, "day" },
		{ 3600, "hour" },
		{ 60, "minute" },
		{ 1, "second" },
	};
	uint64_t left, count;
	size_t used = 0, i;

	if (!n)
		return buf;
	buf[0] = '\0';
	if (now == then) {
		snprintf(buf, n, "Now");
		return buf;
	}
	if (now < then) {
		snprintf(buf, n, "(" TERM_YELLOW "System clock wound backward; connection problems may ensue." TERM_RESET ")");
		return buf;
	}
	left = (uint64_t)(now - then);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
		count = left / units[i].secs;
		left %= units[i].secs;
		if (count)
			used = append(buf, n, used, "%s%llu " TERM_CYAN "%s%s" TERM_RESET, count, units[i].name);
	}
	if (used < n)
		snprintf(buf + used, n - used, " ago");
	return buf;
}

char *fmt_bytes(char *buf, size_t n, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	if (bytes < 1024) {
		snprintf(buf, n, "%llu " TERM_CYAN "B" TERM_RESET, (unsigned long long)bytes);
		return buf;
	}
	/* u = 0 for KiB while below 1 MiB, and so on up to TiB. */
	while (u < 3 && bytes >= (1ULL << (10 * (u + 2))))
		++u;
	snprintf(buf, n, "%.2f " TERM_CYAN "%s" TERM_RESET,
		 (double)bytes / (double)(1ULL << (10 * (u + 1))), units[u]);
	return buf;
}

char *fmt_every(char *buf, size_t n, uint16_t seconds)
{
	snprintf(buf, n, "every %u " TERM_CYAN "second%s" TERM_RESET, seconds, seconds == 1 ? "" : "s");
	return buf;
}

char *fmt_endpoint(char *buf, size_t n, const union wg_endpoint *ep)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t len;

	buf[0] = '\0';
	if (ep->addr.sa_family == AF_INET)
		len = sizeof(ep->addr4);
	else if (ep->addr.sa_family == AF_INET6)
		len = sizeof(ep->addr6);
	else
		return buf;
	if (getnameinfo(&ep->addr, len, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV | NI_DGRAM))
		return buf;
	if (ep->addr.sa_family == AF_INET6)
		snprintf(buf, n, "[%s]:%s", host, serv);
	else
		snprintf(buf, n, "%s:%s", host, serv);
	return buf;
}

char *fmt_allowedip(char *buf, size_t n, const struct wg_allowedip *ip, int colour)
{
	char addr[INET6_ADDRSTRLEN];

	if (!inet_ntop(ip->family, ip->family == AF_INET6 ? (const void *)&ip->ip6 : (const void *)&ip->ip4, addr, sizeof(addr)))
		strcpy(addr, "?");
	snprintf(buf, n, colour ? "%s" TERM_CYAN "/" TERM_RESET "%u" : "%s/%u", addr, ip->cidr);
	return buf;
}
