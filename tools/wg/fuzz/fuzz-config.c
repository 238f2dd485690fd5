// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the configuration-file parser, one line at a time. */
#include <stdlib.h>
#include <string.h>
#include "config.h"

const char *prog_name = "wg";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct wg_device dev = { 0 };
	struct config_ctx ctx;
	char *text = malloc(size + 1), *line, *save = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_init(&ctx, &dev, size & 1);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!config_line(&ctx, line))
			break;
	config_finish(&ctx);
	device_free(&dev);
	free(text);
	return 0;
}
