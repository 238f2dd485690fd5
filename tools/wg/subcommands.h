/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_SUBCOMMANDS_H
#define WG_SUBCOMMANDS_H

#include <stdbool.h>

extern const char *prog_name;

/*
 * The commands, dispatched from the table in wg.c, which has already
 * checked the number of arguments.  argv[0] is the command's name; variant
 * is the table's value for it.  Besides an exit status, a command may
 * return CMD_USAGE (its usage on stderr, exit 1) or CMD_HELP (its usage on
 * stdout, exit 0): the usage text lives in the table only.
 */
enum { CMD_USAGE = -1, CMD_HELP = -2 };
enum { KEY_PRIVATE, KEY_PRESHARED };	/* cmd_genkey()'s variants */

int cmd_show(int argc, char *argv[], int variant);
int cmd_showconf(int argc, char *argv[], int variant);
int cmd_set(int argc, char *argv[], int variant);
int cmd_conf(int argc, char *argv[], int variant);	/* enum sync_mode */
int cmd_genkey(int argc, char *argv[], int variant);
int cmd_pubkey(int argc, char *argv[], int variant);

/* "Unable to <what> interface NAME: strerror (kernel: extack)" on stderr. */
void report_ipc_error(const char *what, const char *name, int err);
/* Sorts peers: latest handshake first, never-handshaken last, stable. */
struct wg_device;
void sort_peers(struct wg_device *dev);

#endif
