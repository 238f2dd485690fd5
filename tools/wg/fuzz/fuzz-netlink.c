// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the GET_DEVICE reply parser (ipc-kernel.c's attribute
 * tables), fed arbitrary bytes as a run of netlink messages. */
#include <stdlib.h>
#include <string.h>
#include "ipc.h"

const char *prog_name = "wg";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct wg_device dev = { 0 };
	void *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);	/* the parser clears flags in place */
	kernel_parse_dump(&dev, buf, size);
	device_free(&dev);
	free(buf);
	return 0;
}
