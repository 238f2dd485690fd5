// SPDX-License-Identifier: GPL-2.0
/*
 * A small, constant-time X25519 for `wg pubkey' and `wg genkey'.
 *
 * Field elements of GF(2^255 - 19) are sixteen signed 64-bit limbs of 16
 * bits each (radix 2^16).  Speed is irrelevant here (one multiplication
 * per command), so the code favours being short and easy to check:
 * schoolbook multiplication, reduction by folding 2^256 = 38, inversion
 * by raising to p - 2, and the Montgomery ladder of RFC 7748 section 5.
 */
#include <string.h>
#include "curve25519.h"

typedef int64_t fe[16];

static void fe_copy(fe r, const fe a)
{
	memcpy(r, a, sizeof(fe));
}

/* Bring every limb back to 16 bits; the overflow of the top limb wraps
 * around multiplied by 38 (2^256 mod p). */
static void fe_carry(fe a)
{
	int i;
	int64_t c;

	for (i = 0; i < 16; ++i) {
		a[i] += (int64_t)1 << 16;
		c = a[i] >> 16;
		a[i] -= c * 65536;
		if (i < 15)
			a[i + 1] += c - 1;
		else
			a[0] += 38 * (c - 1);
	}
}

/* Swap a and b when bit is 1, without branching on it. */
static void fe_cswap(fe a, fe b, int64_t bit)
{
	int64_t mask = ~(bit - 1), t;
	int i;

	for (i = 0; i < 16; ++i) {
		t = mask & (a[i] ^ b[i]);
		a[i] ^= t;
		b[i] ^= t;
	}
}

static void fe_add(fe r, const fe a, const fe b)
{
	int i;

	for (i = 0; i < 16; ++i)
		r[i] = a[i] + b[i];
}

static void fe_sub(fe r, const fe a, const fe b)
{
	int i;

	for (i = 0; i < 16; ++i)
		r[i] = a[i] - b[i];
}

static void fe_mul(fe r, const fe a, const fe b)
{
	int64_t wide[31] = { 0 };
	int i, j;

	for (i = 0; i < 16; ++i)
		for (j = 0; j < 16; ++j)
			wide[i + j] += a[i] * b[j];
	for (i = 0; i < 15; ++i)
		wide[i] += 38 * wide[i + 16];
	for (i = 0; i < 16; ++i)
		r[i] = wide[i];
	fe_carry(r);
	fe_carry(r);
}

static void fe_sq(fe r, const fe a)
{
	fe_mul(r, a, a);
}

/* r = a^(p-2) = 1/a.  p - 2 = 2^255 - 21: every bit set except bits 2 and 4. */
static void fe_invert(fe r, const fe a)
{
	fe acc;
	int bit;

	fe_copy(acc, a);
	for (bit = 253; bit >= 0; --bit) {
		fe_sq(acc, acc);
		if (bit != 2 && bit != 4)
			fe_mul(acc, acc, a);
	}
	fe_copy(r, acc);
}

static void fe_from_bytes(fe r, const uint8_t in[32])
{
	int i;

	for (i = 0; i < 16; ++i)
		r[i] = (int64_t)in[2 * i] | (int64_t)in[2 * i + 1] << 8;
	r[15] &= 0x7fff;	/* RFC 7748: ignore the top bit of u */
}

/* Fully reduce modulo p and write little-endian bytes. */
static void fe_to_bytes(uint8_t out[32], const fe a)
{
	fe t, m;
	int i, pass;
	int64_t borrow;

	fe_copy(t, a);
	fe_carry(t);
	fe_carry(t);
	fe_carry(t);
	/* Subtract p at most twice, keeping the result only if it did not
	 * go negative. */
	for (pass = 0; pass < 2; ++pass) {
		m[0] = t[0] - 0xffed;
		for (i = 1; i < 15; ++i) {
			m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1);
			m[i - 1] &= 0xffff;
		}
		m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1);
		borrow = (m[15] >> 16) & 1;
		m[14] &= 0xffff;
		fe_cswap(t, m, 1 - borrow);
	}
	for (i = 0; i < 16; ++i) {
		out[2 * i] = t[i] & 0xff;
		out[2 * i + 1] = (t[i] >> 8) & 0xff;
	}
}

void x25519_clamp(uint8_t key[32])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32])
{
	static const fe a24 = { 0xdb41, 1 };	/* 121665 */
	uint8_t k[32];
	fe x1, x2, z2, x3, z3, a, aa, b, bb, e, c, d, da, cb;
	int64_t swap = 0, bit;
	int t;

	memcpy(k, scalar, 32);
	x25519_clamp(k);
	fe_from_bytes(x1, point);
	memset(x2, 0, sizeof(fe));
	x2[0] = 1;
	memset(z2, 0, sizeof(fe));
	fe_copy(x3, x1);
	memset(z3, 0, sizeof(fe));
	z3[0] = 1;

	for (t = 254; t >= 0; --t) {
		bit = (k[t >> 3] >> (t & 7)) & 1;
		swap ^= bit;
		fe_cswap(x2, x3, swap);
		fe_cswap(z2, z3, swap);
		swap = bit;

		fe_add(a, x2, z2);
		fe_sq(aa, a);
		fe_sub(b, x2, z2);
		fe_sq(bb, b);
		fe_sub(e, aa, bb);
		fe_add(c, x3, z3);
		fe_sub(d, x3, z3);
		fe_mul(da, d, a);
		fe_mul(cb, c, b);
		fe_add(x3, da, cb);
		fe_sq(x3, x3);
		fe_sub(z3, da, cb);
		fe_sq(z3, z3);
		fe_mul(z3, z3, x1);
		fe_mul(x2, aa, bb);
		fe_mul(z2, a24, e);
		fe_add(z2, z2, aa);
		fe_mul(z2, z2, e);
	}
	fe_cswap(x2, x3, swap);
	fe_cswap(z2, z3, swap);
	fe_invert(z2, z2);
	fe_mul(x2, x2, z2);
	fe_to_bytes(out, x2);
	memset(k, 0, sizeof(k));
}

void x25519_public(uint8_t pub[32], const uint8_t priv[32])
{
	static const uint8_t base[32] = { 9 };

	x25519(pub, priv, base);
}
