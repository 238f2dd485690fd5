// SPDX-License-Identifier: GPL-2.0
/*
 * udpblast: a tight sendto() loop for the AllowedIPs lookup benchmark
 * (tools/bench/allowedips-scale.sh).
 *
 *   udpblast N SECONDS
 *
 * Sends 16-byte UDP datagrams, one sendto() each, for SECONDS seconds, each
 * to 10.x.y.z:9 where x.y.z is the prefix of a random index i in [0, N) by
 * the benchmark's own numbering: x.y.z = (i * 2654435761 + 12345) mod 2^24.
 * The destinations are routed into a WireGuard device whose peer holds those
 * prefixes but has no endpoint: each datagram costs the UDP/IP output path,
 * one AllowedIPs lookup in the device's transmit function and the error
 * (EDESTADDRREQ) that follows it.  Compared across N and across modules,
 * the differences are the lookup's.
 *
 * Prints "calls C", "ok K", "err_ERRNO M" lines and "ns T" (elapsed), and
 * "per_s R" (sendto() calls per second).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ERRNO 200

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap, and good enough to scatter the indices. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

int main(int argc, char **argv)
{
	unsigned long errs[MAX_ERRNO + 1] = { 0 };
	unsigned long calls = 0, ok = 0;
	struct sockaddr_in sin;
	uint64_t start, deadline, t;
	char payload[16];
	unsigned long n;
	double secs;
	int fd, e;

	if (argc != 3) {
		fprintf(stderr, "usage: %s N SECONDS\n", argv[0]);
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	secs = strtod(argv[2], NULL);
	if (!n || n > (1ul << 24) || secs <= 0) {
		fprintf(stderr, "udpblast: bad N or SECONDS\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	memset(payload, 'x', sizeof(payload));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	start = now_ns();
	deadline = start + (uint64_t)(secs * 1e9);
	t = start;
	while (t < deadline) {
		int k;

		/* The clock is read once per 64 calls. */
		for (k = 0; k < 64; k++) {
			uint32_t i = (uint32_t)(rng() % n);
			uint32_t x = (uint32_t)(((uint64_t)i * 2654435761ull + 12345) & 0xffffff);

			sin.sin_addr.s_addr = htonl((10u << 24) | x);
			if (sendto(fd, payload, sizeof(payload), 0,
				   (struct sockaddr *)&sin, sizeof(sin)) >= 0) {
				ok++;
			} else {
				e = errno;
				errs[e > 0 && e < MAX_ERRNO ? e : MAX_ERRNO]++;
			}
			calls++;
		}
		t = now_ns();
	}
	printf("calls %lu\nok %lu\n", calls, ok);
	for (e = 0; e <= MAX_ERRNO; e++)
		if (errs[e])
			printf("err_%d %lu\n", e, errs[e]);
	printf("ns %llu\n", (unsigned long long)(t - start));
	printf("per_s %.0f\n", calls / ((t - start) / 1e9));
	close(fd);
	return 0;
}
