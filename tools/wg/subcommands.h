/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_SUBCOMMANDS_H
#define WG_SUBCOMMANDS_H

extern const char *prog_name;
int show_main(int argc, char *argv[]);
int showconf_main(int argc, char *argv[]);
int set_main(int argc, char *argv[]);
int setconf_main(int argc, char *argv[]);	/* setconf, addconf, syncconf */
int genkey_main(int argc, char *argv[]);	/* genkey, genpsk */
int pubkey_main(int argc, char *argv[]);

/* "Unable to <what> interface NAME: strerror (kernel: extack)" on stderr. */
void report_ipc_error(const char *what, const char *name, int err);
/* Sorts peers: latest handshake first, never-handshaken last, stable. */
struct wg_device;
void sort_peers(struct wg_device *dev);

#endif
