// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the `wg set' argument parser.  Arguments are the
 * input split at newlines; key-file paths are replaced by /dev/null so
 * the fuzzer never opens arbitrary files. */
#include <stdlib.h>
#include <string.h>
#include "config.h"

const char *prog_name = "wg";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct wg_device dev = { 0 };
	char *text = malloc(size + 1), *argv[64], *arg, *save = NULL;
	int argc = 0, i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (arg = strtok_r(text, "\n", &save); arg && argc < 64; arg = strtok_r(NULL, "\n", &save))
		argv[argc++] = arg;
	for (i = 1; i < argc; ++i)
		if (!strcmp(argv[i - 1], "private-key") || !strcmp(argv[i - 1], "preshared-key"))
			argv[i] = "/dev/null";
	config_parse_set(&dev, argc, argv);
	device_free(&dev);
	free(text);
	return 0;
}
