/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_ENCODING_H
#define WG_ENCODING_H

#include <stdbool.h>
#include <stdint.h>
#include "containers.h"

#define WG_KEY_B64_LEN 45	/* 44 characters and a NUL */
#define WG_KEY_HEX_LEN 65	/* 64 characters and a NUL */

void key_to_base64(char out[WG_KEY_B64_LEN], const uint8_t key[WG_KEY_SIZE]);
bool key_from_base64(uint8_t key[WG_KEY_SIZE], const char *in);
void key_to_hex(char out[WG_KEY_HEX_LEN], const uint8_t key[WG_KEY_SIZE]);
bool key_from_hex(uint8_t key[WG_KEY_SIZE], const char *in);
bool key_is_zero(const uint8_t key[WG_KEY_SIZE]);

#endif
