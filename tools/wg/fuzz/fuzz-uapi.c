// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the UAPI text parser, and rebuilding a set request
 * from whatever it accepted. */
#include <stdlib.h>
#include "uapi-text.h"

const char *prog_name = "wg";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct wg_device dev = { 0 };
	size_t len;

	if (!uapi_parse_get(&dev, (const char *)data, size)) {
		char *text = uapi_build_set(&dev, &len);
		struct wg_device again = { 0 };

		uapi_parse_errno(text, len);
		free(text);
		device_free(&again);
	}
	device_free(&dev);
	return 0;
}
