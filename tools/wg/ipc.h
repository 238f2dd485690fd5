/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_IPC_H
#define WG_IPC_H

#include <stdbool.h>
#include <stdint.h>
#include "containers.h"

/* Last error detail (kernel extack message or UAPI remark), or "". */
extern char ipc_error_detail[256];

/* Fills dev (zeroed by the caller) with the state of interface name.
 * Returns 0 or a negative errno. */
int ipc_get_device(struct wg_device *dev, const char *name);
/* Applies the change described by dev (dev->name says where). */
int ipc_set_device(const struct wg_device *dev);
/* Interface names, each NUL-terminated, the list ending with an empty
 * name.  NULL on error (errno set).  Kernel ones first, then UAPI ones. */
char *ipc_list_devices(void);
/* 1 if removing single allowed IPs works on this interface, 0 if not,
 * negative errno if the probe itself failed. */
int ipc_removal_supported(const char *name);

/* Backends. */
int kernel_get_device(struct wg_device *dev, const char *name);
int kernel_set_device(const struct wg_device *dev);
int kernel_list_devices(char **buf, size_t *len, size_t *cap);
int kernel_removal_supported(const char *name, const uint8_t random_key[WG_KEY_SIZE]);
bool uapi_has_device(const char *name);
int uapi_get_device(struct wg_device *dev, const char *name);
int uapi_set_device(const struct wg_device *dev);
int uapi_list_devices(char **buf, size_t *len, size_t *cap);

/* Reads a GET_DEVICE dump as received (messages back to back, of any
 * sequence number) into dev, as kernel_get_device() does; for the unit
 * tests and the fuzzer.  buf is written to (NLM_F_DUMP_INTR is cleared). */
int kernel_parse_dump(struct wg_device *dev, void *buf, size_t len);

/* Size of one SET message the kernel backend builds (exported for tests). */
#define WG_NLMSG_PAYLOAD_MAX 32768

#endif
