// SPDX-License-Identifier: GPL-2.0
/*
 * Keys as text: standard base64 (44 characters ending in one '=') for
 * people, lowercase hex for the cross-platform UAPI.
 */
#include <string.h>
#include "encoding.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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

void key_to_base64(char out[WG_KEY_B64_LEN], const uint8_t key[WG_KEY_SIZE])
{
	unsigned int i, o = 0;
	uint32_t v;

	/* 30 bytes in ten 3-byte groups, then 2 bytes with padding. */
	for (i = 0; i + 3 <= WG_KEY_SIZE; i += 3) {
		v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	v = (uint32_t)key[30] << 16 | (uint32_t)key[31] << 8;
	out[o++] = b64_alphabet[(v >> 18) & 63];
	out[o++] = b64_alphabet[(v >> 12) & 63];
	out[o++] = b64_alphabet[(v >> 6) & 63];
	out[o++] = '=';
	out[o] = '\0';
}

bool key_from_base64(uint8_t key[WG_KEY_SIZE], const char *in)
{
	unsigned int i, o = 0;
	int a, b, c, d;
	uint32_t v;

	if (!in || strlen(in) != WG_KEY_B64_LEN - 1 || in[43] != '=')
		return false;
	for (i = 0; i < 40; i += 4) {
		a = b64_value(in[i]);
		b = b64_value(in[i + 1]);
		c = b64_value(in[i + 2]);
		d = b64_value(in[i + 3]);
		if ((a | b | c | d) < 0)
			return false;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		key[o++] = v >> 16;
		key[o++] = v >> 8;
		key[o++] = v;
	}
	a = b64_value(in[40]);
	b = b64_value(in[41]);
	c = b64_value(in[42]);
	if ((a | b | c) < 0 || (c & 3))	/* the two spare bits must be zero */
		return false;
	v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
	key[o++] = v >> 16;
	key[o++] = v >> 8;
	return true;
}

void key_to_hex(char out[WG_KEY_HEX_LEN], const uint8_t key[WG_KEY_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < WG_KEY_SIZE; ++i) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[2 * WG_KEY_SIZE] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool key_from_hex(uint8_t key[WG_KEY_SIZE], const char *in)
{
	unsigned int i;
	int hi, lo;

	if (!in || strlen(in) != WG_KEY_HEX_LEN - 1)
		return false;
	for (i = 0; i < WG_KEY_SIZE; ++i) {
		hi = hex_value(in[2 * i]);
		lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = hi << 4 | lo;
	}
	return true;
}

bool key_is_zero(const uint8_t key[WG_KEY_SIZE])
{
	uint8_t acc = 0;
	unsigned int i;

	for (i = 0; i < WG_KEY_SIZE; ++i)
		acc |= key[i];
	return !acc;
}
