// SPDX-License-Identifier: GPL-2.0
/* `wg genkey', `wg genpsk' and `wg pubkey'. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "curve25519.h"
#include "encoding.h"
#include "subcommands.h"

int cmd_genkey(int argc, char *argv[], int variant)
{
	uint8_t key[WG_KEY_SIZE];
	char b64[WG_KEY_B64_LEN];
	struct stat st;
	size_t got = 0;
	ssize_t r;

	(void)argc;
	(void)argv;
	if (!fstat(STDOUT_FILENO, &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n", stderr);
	while (got < sizeof(key)) {
		r = getrandom(key + got, sizeof(key) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("getrandom");
			return 1;
		}
		got += (size_t)r;
	}
	if (variant == KEY_PRIVATE)
		x25519_clamp(key);
	key_to_base64(b64, key);
	puts(b64);
	memset(key, 0, sizeof(key));
	return 0;
}

int cmd_pubkey(int argc, char *argv[], int variant)
{
	uint8_t key[WG_KEY_SIZE], pub[WG_KEY_SIZE];
	char b64[WG_KEY_B64_LEN + 1];
	size_t len = 0;
	int c;

	(void)argc;
	(void)argv;
	(void)variant;
	/* The key, optionally followed by whitespace (a newline usually). */
	while ((c = getchar()) != EOF && !isspace(c)) {
		if (len >= WG_KEY_B64_LEN - 1) {
			len = WG_KEY_B64_LEN;	/* too long */
			break;
		}
		b64[len++] = (char)c;
	}
	while (c != EOF && len < WG_KEY_B64_LEN && (c = getchar()) != EOF)
		if (!isspace(c))
			len = WG_KEY_B64_LEN;
	if (ferror(stdin)) {
		perror("fread(private key)");
		return 1;
	}
	b64[len < WG_KEY_B64_LEN ? len : WG_KEY_B64_LEN] = '\0';
	if (len >= WG_KEY_B64_LEN || !key_from_base64(key, b64)) {
		fprintf(stderr, "%s: Key is not the correct length or format\n", prog_name);
		return 1;
	}
	if (!x25519_public(pub, key)) {
		fprintf(stderr, "%s: Unable to compute the public key\n", prog_name);
		memset(key, 0, sizeof(key));
		return 1;
	}
	key_to_base64(b64, pub);
	puts(b64);
	memset(key, 0, sizeof(key));
	return 0;
}
